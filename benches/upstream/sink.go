package main

// The neutral sink both uploaders send to: a loopback HTTP server that
// decompresses zstd bodies, checks Orig-Content-Length, parses the JSON array
// and counts entries (and duplicates, by proc_id and proc_seq) per request
// path, and counts the bytes each client connection moved in both directions.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// pathStats is what one client (one request path, i.e. one log ID) did.
type pathStats struct {
	requests, entries, duplicates int
	rejected                      int
	seen                          map[[2]uint64]bool
}

// countingConn counts the bytes read and written on one client connection.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
	path          atomic.Value // string: the path of its first request
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

type countingListener struct {
	net.Listener
	sink *sink
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	l.sink.mu.Lock()
	l.sink.conns = append(l.sink.conns, cc)
	l.sink.mu.Unlock()
	return cc, nil
}

type connKey struct{}

type sink struct {
	url   string
	dec   *zstd.Decoder
	mu    sync.Mutex
	paths map[string]*pathStats
	conns []*countingConn
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	s := &sink{url: "http://" + ln.Addr().String(), dec: dec, paths: map[string]*pathStats{}}
	srv := &http.Server{
		Handler:     s,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
	}
	go srv.Serve(countingListener{ln, s})
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(connKey{}).(*countingConn); ok {
		c.path.CompareAndSwap(nil, r.URL.Path)
	}
	s.mu.Lock()
	ps := s.paths[r.URL.Path]
	if ps == nil {
		ps = &pathStats{seen: map[[2]uint64]bool{}}
		s.paths[r.URL.Path] = ps
	}
	ps.requests++
	s.mu.Unlock()
	entries, err := s.decode(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		ps.rejected++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, e := range entries {
		k := [2]uint64{uint64(e.Logtail.ProcID), e.Logtail.ProcSeq}
		if ps.seen[k] {
			ps.duplicates++
			continue
		}
		ps.seen[k] = true
		ps.entries++
	}
	w.Header().Set(sinkEntriesHeader, strconv.Itoa(ps.entries))
	w.WriteHeader(http.StatusOK)
}

type sinkEntry struct {
	Logtail struct {
		ProcID  uint32 `json:"proc_id"`
		ProcSeq uint64 `json:"proc_seq"`
	} `json:"logtail"`
}

func (s *sink) decode(r *http.Request) ([]sinkEntry, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("method %s", r.Method)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if r.Header.Get("Content-Encoding") == "zstd" {
		want, err := strconv.Atoi(r.Header.Get("Orig-Content-Length"))
		if err != nil {
			return nil, fmt.Errorf("bad Orig-Content-Length: %v", err)
		}
		body, err = s.dec.DecodeAll(body, nil)
		if err != nil {
			return nil, err
		}
		if len(body) != want {
			return nil, fmt.Errorf("Orig-Content-Length %d, decompressed %d", want, len(body))
		}
	}
	var entries []sinkEntry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// result is what the sink saw from the client that used path.
type result struct {
	requests, entries, duplicates, rejected int
	wireBytes                               int64
}

func (s *sink) result(path string) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r result
	if ps := s.paths[path]; ps != nil {
		r = result{requests: ps.requests, entries: ps.entries, duplicates: ps.duplicates, rejected: ps.rejected}
	}
	for _, c := range s.conns {
		if p, _ := c.path.Load().(string); p == path {
			r.wireBytes += c.read.Load() + c.written.Load()
		}
	}
	return r
}

// paths lists the request paths seen so far.
func (s *sink) pathSet() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for p := range s.paths {
		out[p] = true
	}
	return out
}
