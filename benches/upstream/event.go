package main

// The Go equivalent of upstream's sampler tick and event encoding, written in
// our own words from shared/spec/upstream.md §1-2 because upstream keeps them
// unexported (log/sockstatlog's delta and event type) or behind its Go fork
// (net/sockstats counts only with the tailscale_go toolchain). What it does
// is what upstream does per tick: lock the label registry and copy every
// label's two atomic totals into a freshly allocated map (sockstats.Get),
// diff it against the previous snapshot (delta: labels of the new snapshot
// only, unchanged ones skipped, nil when nothing moved), and build the event
// {t,d,c,s}; the writer later encodes each event with an encoding/json
// Encoder, one line per event.

import (
	"sync"
	"sync/atomic"
	"time"
)

// label is upstream's sockstats.Label: a uint8 with no text marshaller, so
// map keys encode as decimal strings sorted as strings.
type label uint8

// labelTotals are one label's running byte totals, updated by socket hooks.
type labelTotals struct {
	tx, rx atomic.Uint64
}

// registry holds every label used so far, like net/sockstats' package state.
type registry struct {
	mu     sync.Mutex
	labels map[label]*labelTotals
}

func newRegistry() *registry { return &registry{labels: map[label]*labelTotals{}} }

// counter returns the label's totals, creating them on first use (upstream
// creates them when a socket is first labelled).
func (r *registry) counter(l label) *labelTotals {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.labels[l]
	if c == nil {
		c = new(labelTotals)
		r.labels[l] = c
	}
	return c
}

// totals is one label's totals in a snapshot.
type totals struct{ tx, rx uint64 }

// snapshot is sockstats.SockStats without the per-interface part.
type snapshot struct {
	stats    map[label]totals
	cellular bool
}

// get copies all totals into a new snapshot (sockstats.Get).
func (r *registry) get() *snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &snapshot{stats: make(map[label]totals, len(r.labels))}
	for l, c := range r.labels {
		s.stats[l] = totals{c.tx.Load(), c.rx.Load()}
	}
	return s
}

// pair is an event's [tx, rx] for one label.
type pair [2]uint64

// diff is upstream's delta: for each label of b, b minus a (a missing label
// counts as zero, uint64 arithmetic wraps), unchanged labels left out; nil
// when either side is nil or nothing changed.
func diff(a, b *snapshot) map[label]pair {
	if a == nil || b == nil {
		return nil
	}
	var out map[label]pair
	for l, now := range b.stats {
		was := a.stats[l]
		if was == now {
			continue
		}
		if out == nil {
			out = map[label]pair{}
		}
		out[l] = pair{now.tx - was.tx, now.rx - was.rx}
	}
	return out
}

// sockEvent has the wire shape of upstream's event: fields in the order
// t, d, c, s; c only when cellular.
type sockEvent struct {
	Start    int64          `json:"t"`
	Duration int64          `json:"d"`
	Cellular int            `json:"c,omitempty"`
	Stats    map[label]pair `json:"s"`
}

// poller is the state the tick carries between calls.
type poller struct {
	reg      *registry
	last     *snapshot
	lastTime time.Time
}

// tick is one poll: snapshot, delta, and the event if anything moved.
func (p *poller) tick(now time.Time) (sockEvent, bool) {
	s := p.reg.get()
	var ev sockEvent
	ok := false
	if p.last != nil {
		if d := diff(p.last, s); len(d) > 0 {
			ev = sockEvent{Start: p.lastTime.UnixMilli(), Duration: now.Sub(p.lastTime).Milliseconds(), Stats: d}
			if s.cellular {
				ev.Cellular = 1
			}
			ok = true
		}
	}
	p.last, p.lastTime = s, now
	return ev, ok
}
