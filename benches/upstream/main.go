// Command upstream-bench measures sockstatlog against upstream's Go code
// (tailscale.com's logtail, logtail/filch and, in our own words, the
// sockstatlog tick) side by side: `compare` runs both sides' children in
// interleaved rounds on the same inputs against the same neutral sink and
// prints one table of ratios (ours / upstream). The other subcommands are
// the upstream side's children. Run through benches/upstream/run.sh.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: upstream-bench compare|tick|write|upload|idle [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"compare": compare,
		"tick":    childTick,
		"write":   childWrite,
		"upload":  childUpload,
		"idle":    childIdle,
		"sink":    serveSink,
		"gen":     genCmd,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown subcommand %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "upstream-bench:", err)
		os.Exit(1)
	}
}

// logFileBytes is how full each of the two log files is made: just under
// half the 5 MiB budget (the rotation point) less one maximal line, so that
// neither side rotates or drops anything before the upload.
const logFileBytes = maxLogBytes/2 - 64<<10

// genLog writes the shared input of the upload measure: both log files full
// of logtail entries as the writer stores them, log1 older (earlier mtime).
// Returns the number of entries.
func genLog(dir string) (int, error) {
	seq := 0
	for i, name := range []string{"sockstats.log1.txt", "sockstats.log2.txt"} {
		var b strings.Builder
		for {
			seq++
			line := fmt.Sprintf(`{"logtail":{"client_time":"2023-03-29T01:44:%02d.%03dZ","proc_id":1234567,"proc_seq":%d},`+
				`"t":%d,"d":100,"s":{"11":[%d,0],"2":[%d,%d],"8":[%d,%d]}}`+"\n",
				seq/10%60, seq%10*100, seq, 1_680_054_284_000+seq*100, seq%97, seq*7%1500, seq*13%9000, seq%1400, seq*3%1400)
			if b.Len()+len(line) > logFileBytes {
				seq--
				break
			}
			b.WriteString(line)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
			return 0, err
		}
		mt := time.Now().Add(time.Duration(i-2) * time.Minute)
		if err := os.Chtimes(p, mt, mt); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// genCmd writes the upload measure's input into -dir and prints its entry count.
func genCmd(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to fill")
	fs.Parse(args)
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	n, err := genLog(*dir)
	fmt.Println(n)
	return err
}

// serveSink runs the neutral sink alone (for profiling one side by hand):
// prints its URL and serves until killed.
func serveSink(args []string) error {
	s, err := startSink()
	if err != nil {
		return err
	}
	fmt.Println(s.url)
	select {}
}

// copyLog gives one upload run its own copy of the shared input, mtimes kept.
func copyLog(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	for _, name := range []string{"sockstats.log1.txt", "sockstats.log2.txt"} {
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil {
			return err
		}
		st, err := os.Stat(filepath.Join(from, name))
		if err != nil {
			return err
		}
		p := filepath.Join(to, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
		if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

// run is one child's outcome: its JSON figures and the CPU time the kernel
// accounted to it (user + system).
type run struct {
	figures map[string]float64
	cpu     time.Duration
}

func runChild(bin string, args ...string) (run, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return run{}, fmt.Errorf("%s %v: %v", bin, args, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var r run
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r.figures); err != nil {
		return run{}, fmt.Errorf("%s %v: output %q: %v", bin, args, out, err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return r, nil
}

// procCounters sums the context switches (each one a sleep or preemption,
// i.e. a wake-up) over all threads of pid, and reads its VmRSS (KiB).
func procCounters(pid int) (switches int64, rssKiB int64, err error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just exited
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			n, _ := strconv.ParseInt(strings.Fields(v + " 0")[0], 10, 64)
			switch k {
			case "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches":
				switches += n
			}
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		}
	}
	return switches, rssKiB, nil
}

// idleChild is a started idle child that said "ready".
type idleChild struct {
	cmd *exec.Cmd
}

func startIdle(bin string, args ...string) (*idleChild, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s %v: no ready line (%q, %v)", bin, args, line, err)
	}
	return &idleChild{cmd: cmd}, nil
}

// measure holds per-round values of one row, ours and upstream's.
type measure struct {
	name, unit string
	ours, up   []float64
	note       string
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	ours := fs.String("ours", "", "our side's bench binary")
	rounds := fs.Int("rounds", 5, "interleaved rounds (at least 5)")
	idleWarm := fs.Duration("idle-warmup", 21*time.Second, "idle children run this long before counting (past two 10 s write intervals)")
	idleSecs := fs.Duration("idle-window", 10*time.Second, "idle counting window")
	fs.Parse(args)
	if *ours == "" || *rounds < 1 {
		return fmt.Errorf("need -ours and -rounds >= 1")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "upstream-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	s, err := startSink()
	if err != nil {
		return err
	}
	input := filepath.Join(tmp, "input")
	if err := os.MkdirAll(input, 0o700); err != nil {
		return err
	}
	entries, err := genLog(input)
	if err != nil {
		return err
	}

	// Idle children of all rounds run at once, in the background, while the
	// busy measures run (they sleep, so they neither disturb nor are disturbed).
	var idles [][2]*idleChild
	for r := 0; r < *rounds; r++ {
		var pair [2]*idleChild
		for side, bin := range []string{*ours, self} {
			dir := filepath.Join(tmp, fmt.Sprintf("idle-%d-%d", r, side))
			if pair[side], err = startIdle(bin, "idle", "-dir", dir, "-url", s.url); err != nil {
				return err
			}
			defer pair[side].cmd.Process.Kill()
		}
		idles = append(idles, pair)
	}
	idleStart := time.Now()

	ms := map[string]*measure{}
	var order []string
	add := func(key, name, unit, note string, side int, v float64) {
		m := ms[key]
		if m == nil {
			m = &measure{name: name, unit: unit, note: note}
			ms[key] = m
			order = append(order, key)
		}
		if side == 0 {
			m.ours = append(m.ours, v)
		} else {
			m.up = append(m.up, v)
		}
	}
	bins := [2]string{*ours, self}
	for r := 0; r < *rounds; r++ {
		fmt.Fprintf(os.Stderr, "round %d/%d\n", r+1, *rounds)
		// Alternate which side goes first, so a drift in machine load
		// over a round does not favour one side.
		sides := []int{0, 1}
		if r%2 == 1 {
			sides = []int{1, 0}
		}
		for _, side := range sides {
			for _, labels := range []string{"13", "16"} {
				res, err := runChild(bins[side], "tick", "-labels", labels, "-iters", "200000")
				if err != nil {
					return err
				}
				add("tick"+labels, "sampler tick + event encoding, "+labels+" changed labels", "ns", "upstream: our Go rendering of its unexported delta + event type; ours: Sampler::tick + encode_event", side, res.figures["ns"])
			}
		}
		for _, side := range sides {
			dir := filepath.Join(tmp, fmt.Sprintf("write-%d-%d", r, side))
			res, err := runChild(bins[side], "write", "-dir", dir, "-batches", "200")
			if err != nil {
				return err
			}
			const wname = "write 100 events to the log, no fsync on either side"
			const fname = "write 100 events: ours with its per-batch fsync, upstream (never fsyncs)"
			add("write", wname, "µs", "upstream: json.Encoder -> logtail.Logger.Write -> filch.Write, 100 calls", side, res.figures["ns"]/1e3)
			if side == 1 {
				add("writefsync", fname, "µs", "", side, res.figures["ns"]/1e3)
				continue
			}
			res, err = runChild(bins[side], "write", "-dir", dir+"-fsync", "-batches", "50", "-fsync")
			if err != nil {
				return err
			}
			add("writefsync", fname, "µs", "", side, res.figures["ns"]/1e3)
		}
		for _, side := range sides {
			dir := filepath.Join(tmp, fmt.Sprintf("upload-%d-%d", r, side))
			if err := copyLog(input, dir); err != nil {
				return err
			}
			before := s.pathSet()
			res, err := runChild(bins[side], "upload", "-dir", dir, "-url", s.url, "-expect", strconv.Itoa(entries))
			if err != nil {
				return err
			}
			var path string
			for p := range s.pathSet() {
				if !before[p] {
					path = p
				}
			}
			sr := s.result(path)
			if sr.entries != entries || sr.rejected != 0 {
				return fmt.Errorf("side %d round %d: sink holds %d of %d entries, %d requests rejected", side, r, sr.entries, entries, sr.rejected)
			}
			add("up-wall", "upload 5 MiB two-file log: wall time", "ms", "same input copied per run; upstream: filch.New + logtail.NewLogger (its uploader drains at once), done at the sink's last 200; ours: LogFiles::open + Uploader::start + flush, which returns once the last batch is committed (its fdatasync follows)", side, res.figures["ns"]/1e6)
			add("up-cpu", "upload: CPU time (user + sys, whole process)", "ms", "", side, float64(res.cpu.Microseconds())/1e3)
			add("up-rss", "upload: peak RSS (VmHWM of the whole process)", "KiB", "", side, res.figures["hwm_kib"])
			add("up-req", "upload: requests", "", "", side, float64(sr.requests))
			add("up-wire", "upload: bytes on the wire (both directions, headers included)", "KiB", "", side, float64(sr.wireBytes)/1024)
			add("up-dup", "upload: duplicate entries at the sink", "", "", side, float64(sr.duplicates))
		}
		os.RemoveAll(filepath.Join(tmp, fmt.Sprintf("write-%d-0-fsync", r)))
	}

	if wait := *idleWarm - time.Since(idleStart); wait > 0 {
		fmt.Fprintf(os.Stderr, "idle: warming up %v more\n", wait.Round(time.Second))
		time.Sleep(wait)
	}
	var before [][2]int64
	for _, pair := range idles {
		var b [2]int64
		for side, c := range pair {
			if b[side], _, err = procCounters(c.cmd.Process.Pid); err != nil {
				return err
			}
		}
		before = append(before, b)
	}
	t0 := time.Now()
	time.Sleep(*idleSecs)
	secs := time.Since(t0).Seconds()
	for r, pair := range idles {
		for side, c := range pair {
			sw, rss, err := procCounters(c.cmd.Process.Pid)
			if err != nil {
				return err
			}
			add("idle-wake", "idle logger (enabled, no traffic): wake-ups/s, all threads", "/s", "upstream: its poller + writer loops in our Go words over logtail + filch", side, float64(sw-before[r][side])/secs)
			add("idle-rss", "idle logger: RSS", "KiB", "", side, float64(rss))
		}
	}

	printTable(ms, order, *rounds)
	return nil
}

func printTable(ms map[string]*measure, order []string, rounds int) {
	fmt.Printf("| measure | ours (median) | upstream (median) | ours / upstream: min | median |\n")
	fmt.Printf("|---|---|---|---|---|\n")
	for _, k := range order {
		m := ms[k]
		unit := m.unit
		if unit != "" {
			unit = " " + unit
		}
		if len(m.up) == 0 {
			fmt.Printf("| %s | %.1f%s | – | – | – |\n", m.name, median(m.ours), unit)
			continue
		}
		var ratios []float64
		for i := range m.ours {
			if m.up[i] == 0 {
				ratios = nil
				break
			}
			ratios = append(ratios, m.ours[i]/m.up[i])
		}
		rmin, rmed := "–", "–"
		if len(ratios) > 0 {
			mn := ratios[0]
			for _, x := range ratios {
				mn = min(mn, x)
			}
			rmin, rmed = fmt.Sprintf("%.2f", mn), fmt.Sprintf("**%.2f**", median(ratios))
		}
		fmt.Printf("| %s | %.1f%s | %.1f%s | %s | %s |\n", m.name, median(m.ours), unit, median(m.up), unit, rmin, rmed)
	}
	fmt.Printf("\n%d interleaved rounds (order alternating). Notes:\n", rounds)
	seen := map[string]bool{}
	for _, k := range order {
		if n := ms[k].note; n != "" && !seen[n] {
			seen[n] = true
			fmt.Printf("- %s: %s\n", ms[k].name, n)
		}
	}
}
