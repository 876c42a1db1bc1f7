package main

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The cases of upstream's TestDelta (spec/upstream.md §1), label 2 throughout.
func TestDiffMatchesUpstreamCases(t *testing.T) {
	snap := func(m map[label]totals) *snapshot { return &snapshot{stats: m} }
	cases := []struct {
		name string
		a, b *snapshot
		want map[label]pair
	}{
		{"nil-a", nil, snap(map[label]totals{}), nil},
		{"nil-b", snap(map[label]totals{}), nil, nil},
		{"no-change", snap(map[label]totals{2: {10, 0}}), snap(map[label]totals{2: {10, 0}}), nil},
		{"tx-after-empty", snap(map[label]totals{}), snap(map[label]totals{2: {10, 0}}), map[label]pair{2: {10, 0}}},
		{"rx-after-non-empty", snap(map[label]totals{2: {10, 10}}), snap(map[label]totals{2: {10, 30}}), map[label]pair{2: {0, 20}}},
	}
	for _, c := range cases {
		got := diff(c.a, c.b)
		if len(got) != len(c.want) {
			t.Fatalf("%s: got %v want %v", c.name, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Fatalf("%s: got %v want %v", c.name, got, c.want)
			}
		}
	}
}

// Keys are decimal strings sorted as strings, fields t,d,c,s, c omitted at 0.
func TestEventEncodesLikeUpstream(t *testing.T) {
	var buf bytes.Buffer
	ev := sockEvent{Start: 1, Duration: 100, Stats: map[label]pair{2: {1, 2}, 10: {3, 4}}}
	if err := json.NewEncoder(&buf).Encode(ev); err != nil {
		t.Fatal(err)
	}
	if want := `{"t":1,"d":100,"s":{"10":[3,4],"2":[1,2]}}` + "\n"; buf.String() != want {
		t.Fatalf("got %q want %q", buf.String(), want)
	}
}
