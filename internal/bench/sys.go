package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// raiseFileLimit makes sure the process may hold need open files, raising
// the soft limit (and, where allowed, the hard one). It returns the limit
// in force afterwards.
func raiseFileLimit(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= need {
		return lim.Cur, nil
	}
	want := lim
	want.Cur = need
	if want.Max < need {
		want.Max = need
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return need, nil
	}
	// Not allowed to raise the hard limit: take what it allows.
	want = lim
	want.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return lim.Cur, err
	}
	return lim.Max, nil
}

// procMem is a process's resident memory from /proc/PID/status, in bytes.
type procMem struct {
	RSS, HWM uint64
}

func readProcMem(pid int) (procMem, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return procMem{}, err
	}
	var m procMem
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n << 10
		case "VmHWM":
			m.HWM = n << 10
		}
	}
	if m.RSS == 0 {
		return m, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return m, nil
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is the unit of /proc/PID/stat's times: USER_HZ, 100 on every
// Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU returns a function that reads the CPU time (user and system)
// process pid has used, from /proc/PID/stat.
func procCPU(pid int) func() time.Duration {
	path := filepath.Join("/proc", strconv.Itoa(pid), "stat")
	return func() time.Duration {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		// The command name (field 2) may hold spaces; fields after it
		// start after the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return 0
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			return 0
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14
		st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
		return time.Duration(ut+st) * clockTick
	}
}

// goMem is this process's Go heap and goroutine stacks after a full GC.
type goMem struct {
	Heap, Stack uint64
	Goroutines  int
}

func readGoMem() goMem {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return goMem{Heap: ms.HeapAlloc, Stack: ms.StackInuse, Goroutines: runtime.NumGoroutine()}
}

// readGoMemSettled is readGoMem after as many GC cycles as it takes for
// goroutine stacks to stop shrinking (at most 10): the runtime halves an
// idle goroutine's stack at most once per cycle, and a server that idles
// runs a cycle at least every two minutes, so this is the memory of
// connections that have been idle for a while, not of ones that just
// finished their handshake.
func readGoMemSettled() goMem {
	m := readGoMem()
	for range 10 {
		n := readGoMem()
		if n.Stack >= m.Stack {
			return n
		}
		m = n
	}
	return m
}

// loadAvg returns /proc/loadavg's first three fields ("" when unknown):
// the bench records it before and after, so that a run on a busy machine
// shows it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// IdleReport is the resident memory of a freshly started `parley serve`.
type IdleReport struct {
	RSSMB     float64 `json:"rssMB"`
	PeakRSSMB float64 `json:"peakRssMB"`
	Settle    float64 `json:"settleSec"`
	Command   string  `json:"command"`
}

var servingURL = regexp.MustCompile(`url=(http://127\.0\.0\.1:[0-9]+)`)

// idleSettle is how long the fresh server runs idle before its memory is
// read: long enough for the delivery engine's first rounds and the first
// start's app creation to be over.
const idleSettle = time.Second

// measureIdle starts exe serve with a fresh database on 127.0.0.1:0, waits
// until it answers /healthz, lets it idle for idleSettle, reads its VmRSS
// and stops it with SIGTERM.
func measureIdle(ctx context.Context, exe string) (*IdleReport, error) {
	dir, err := os.MkdirTemp("", "parley-bench-idle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + filepath.Join(dir, "parley.db")}
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{} // no PARLEY_* from the environment: defaults and these flags only
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		exited <- cmd.Wait()
	}()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("no exit within 15 s of SIGTERM")
		}
	}
	var base string
	select {
	case base = <-urls:
	case err := <-exited:
		return nil, fmt.Errorf("parley serve exited before serving: %v", err)
	case <-time.After(20 * time.Second):
		_ = stop()
		return nil, errors.New("parley serve did not start within 20 s")
	case <-ctx.Done():
		_ = stop()
		return nil, ctx.Err()
	}
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	if !waitFor(ctx, 10*time.Second, func() bool {
		res, err := hc.Get(base + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}) {
		_ = stop()
		return nil, errors.New("parley serve did not answer /healthz")
	}
	hc.CloseIdleConnections()
	pause(ctx, idleSettle)
	m, err := readProcMem(cmd.Process.Pid)
	if serr := stop(); err == nil && serr != nil && !isSignalExit(serr) {
		err = fmt.Errorf("stop parley serve: %w", serr)
	}
	if err != nil {
		return nil, err
	}
	return &IdleReport{RSSMB: mb(m.RSS), PeakRSSMB: mb(m.HWM), Settle: idleSettle.Seconds(),
		Command: "parley " + strings.Join(args[:3], " ") + " --db sqlite:<temp>/parley.db"}, nil
}

func isSignalExit(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && bytes.Contains([]byte(ee.Error()), []byte("signal"))
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
