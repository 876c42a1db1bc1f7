package main

// The upstream side of each measure, run as a child process of `compare`
// (so CPU time and peak RSS come from the kernel's rusage of that process
// alone). Each prints one JSON object on stdout. Upstream's own exported code
// does the work wherever it exists: logtail.NewLogger, Logger.Write (through
// the json.Encoder upstream's writer uses), filch.New and logtail's uploader.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tailscale.com/logtail"
	"tailscale.com/logtail/filch"
	"tailscale.com/types/logid"
)

const (
	// collection is the one upstream's sockstatlog uses.
	collection = "sockstats.log.tailscale.io"
	// maxLogBytes is upstream's sockstatlog filch budget (5 MiB for both files).
	maxLogBytes = 5 << 20
	// neverFlush is the flush delay upstream's sockstatlog sets (100 years),
	// so the uploader only runs when woken.
	neverFlush = 100 * 365 * 24 * time.Hour
	// pollInterval and logInterval are upstream sockstatlog's poll and write
	// intervals, used by the idle child's poller and writer loops.
	pollInterval = 100 * time.Millisecond
	logInterval  = 10 * time.Second
	// eventQueueLen is upstream's event channel capacity: (10 s + 1 s) / 100 ms.
	eventQueueLen = int((logInterval + time.Second) / pollInterval)
	// sinkEntriesHeader is how the neutral sink tells a client how many
	// distinct entries it holds for that client's URL (logtail ignores it;
	// the upload child uses it to know that the upload is complete).
	sinkEntriesHeader = "X-Sink-Entries"
)

func emit(v map[string]float64) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func discardf(string, ...any) {}

// newLogtail opens upstream's filch in dir and a logtail logger over it,
// configured as log/sockstatlog configures its own.
func newLogtail(dir, baseURL string, httpc *http.Client) (*logtail.Logger, *filch.Filch, error) {
	// log/sockstatlog creates its directory (mode 0755) before the filch.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	f, err := filch.New(filepath.Join(dir, "sockstats"), filch.Options{MaxFileSize: maxLogBytes})
	if err != nil {
		return nil, nil, err
	}
	priv, err := logid.NewPrivateID()
	if err != nil {
		return nil, nil, err
	}
	lg := logtail.NewLogger(logtail.Config{
		Collection:   collection,
		PrivateID:    priv,
		BaseURL:      baseURL,
		HTTPC:        httpc,
		Buffer:       f,
		CompressLogs: true,
		FlushDelayFn: func() time.Duration { return neverFlush },
		Stderr:       io.Discard,
	}, discardf)
	return lg, f, nil
}

// childTick times iters sampler ticks with all `labels` labels changed in
// each: the counter adds, the tick (snapshot + delta + event) and the JSON
// encoding of the event.
func childTick(args []string) error {
	fs := flag.NewFlagSet("tick", flag.ExitOnError)
	labels := fs.Int("labels", 13, "labels changed per tick")
	iters := fs.Int("iters", 200000, "ticks to time")
	fs.Parse(args)
	reg := newRegistry()
	counters := make([]*labelTotals, *labels)
	for i := range counters {
		counters[i] = reg.counter(label(i))
	}
	p := &poller{reg: reg}
	now := time.Unix(1_680_054_284, 0)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	run := func(n int) {
		for i := 0; i < n; i++ {
			for _, c := range counters {
				c.tx.Add(100)
				c.rx.Add(10)
			}
			now = now.Add(pollInterval)
			if ev, ok := p.tick(now); ok {
				out.Reset()
				if err := enc.Encode(ev); err != nil {
					panic(err)
				}
			}
		}
	}
	run(*iters / 10)
	start := time.Now()
	run(*iters)
	emit(map[string]float64{"ns": float64(time.Since(start).Nanoseconds()) / float64(*iters), "bytes": float64(out.Len())})
	return nil
}

// batchEvents are the 100 events of one 10 s write batch, the same on both sides.
func batchEvents() []sockEvent {
	evs := make([]sockEvent, 100)
	for i := range evs {
		evs[i] = sockEvent{
			Start:    1_680_054_284_508 + int64(i)*100,
			Duration: 100,
			Stats:    map[label]pair{2: {4000 + uint64(i), 300}, 5: {120, 800}, 8: {60_000, 90_000}},
		}
		if i%3 == 0 {
			evs[i].Cellular = 1
		}
	}
	return evs
}

// childWrite times writing batches of 100 events the way upstream's writer
// does: each event encoded by a json.Encoder whose writer is the logtail
// logger, which adds its metadata and appends the line to the filch (no fsync).
func childWrite(args []string) error {
	fs := flag.NewFlagSet("write", flag.ExitOnError)
	dir := fs.String("dir", "", "empty log directory")
	batches := fs.Int("batches", 200, "batches to time")
	fs.Parse(args)
	lg, f, err := newLogtail(*dir, "http://127.0.0.1:9", nil)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(lg)
	evs := batchEvents()
	run := func(n int) {
		for b := 0; b < n; b++ {
			for _, ev := range evs {
				if err := enc.Encode(ev); err != nil {
					panic(err)
				}
			}
		}
	}
	run(*batches / 10)
	start := time.Now()
	run(*batches)
	emit(map[string]float64{"ns": float64(time.Since(start).Nanoseconds()) / float64(*batches)})
	return nil
}

// doneTransport watches the sink's entry count in each response, so the
// child knows when the uploader has delivered everything.
type doneTransport struct {
	inner  http.RoundTripper
	expect int
	done   chan struct{}
}

func (t *doneTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.inner.RoundTrip(r)
	if err == nil {
		if n, _ := strconv.Atoi(resp.Header.Get(sinkEntriesHeader)); n >= t.expect {
			select {
			case t.done <- struct{}{}:
			default:
			}
		}
	}
	return resp, err
}

// childUpload uploads the log in dir with upstream's logtail uploader, which
// starts draining the filch as soon as the logger is created, and returns
// when the sink holds all `expect` entries.
func childUpload(args []string) error {
	fs := flag.NewFlagSet("upload", flag.ExitOnError)
	dir := fs.String("dir", "", "log directory")
	url := fs.String("url", "", "sink base URL")
	expect := fs.Int("expect", 0, "entries in the log")
	fs.Parse(args)
	tr := &doneTransport{inner: http.DefaultTransport.(*http.Transport).Clone(), expect: *expect, done: make(chan struct{}, 1)}
	start := time.Now()
	_, f, err := newLogtail(*dir, *url, &http.Client{Transport: tr})
	if err != nil {
		return err
	}
	select {
	case <-tr.done:
	case <-time.After(10 * time.Minute):
		return fmt.Errorf("upload did not complete")
	}
	elapsed := time.Since(start)
	f.Close()
	emit(map[string]float64{"ns": float64(elapsed.Nanoseconds()), "hwm_kib": float64(peakRSS())})
	return nil
}

// peakRSS is this process's VmHWM in KiB. (The kernel's rusage maxrss of a
// child started by Go's fork+exec includes the parent's RSS at the exec, so
// each child reports its own high-water mark instead.)
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n
		}
	}
	return 0
}

// childIdle runs an enabled, idle logger the way upstream's sockstatlog does:
// a poller ticking every 100 ms into the event channel and a writer draining
// it every 10 s into logtail, over upstream's logtail and filch. It prints
// "ready" and then runs until killed.
func childIdle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	dir := fs.String("dir", "", "log directory")
	url := fs.String("url", "", "sink base URL")
	fs.Parse(args)
	lg, _, err := newLogtail(*dir, *url, nil)
	if err != nil {
		return err
	}
	ctx := context.Background()
	events := make(chan sockEvent, eventQueueLen)
	go func() {
		p := &poller{reg: newRegistry()}
		t := time.NewTicker(pollInterval)
		for now := range t.C {
			if ev, ok := p.tick(now); ok {
				events <- ev
			}
		}
	}()
	go func() {
		enc := json.NewEncoder(lg)
		t := time.NewTicker(logInterval)
		for range t.C {
			for drained := false; !drained; {
				select {
				case ev := <-events:
					enc.Encode(ev)
				default:
					drained = true
				}
			}
		}
	}()
	w := bufio.NewWriter(os.Stdout)
	w.WriteString("ready\n")
	w.Flush()
	<-ctx.Done()
	return nil
}
