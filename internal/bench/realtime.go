package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fanMsg tracks one fan-out message across the group's members.
type fanMsg struct {
	sent  atomic.Int64 // Unix ns, set before the send
	count atomic.Int64 // members that received it
	last  atomic.Int64 // latest arrival, Unix ns
	done  chan struct{}
	once  sync.Once
}

// fanoutWait bounds how long one message may take to reach every member.
const fanoutWait = 15 * time.Second

// runFanout connects every member of the group, then sends
// FanoutMessages messages one at a time (after one untimed warm-up
// message) and times how long each takes to reach every member's
// WebSocket, the sender's own included.
func (r *runner) runFanout(ctx context.Context) error {
	c := r.cfg
	ph := r.ps.add("fanout")
	g := int64(c.GroupSize)
	msgs := make([]*fanMsg, c.FanoutMessages+1)
	for i := range msgs {
		msgs[i] = &fanMsg{done: make(chan struct{})}
	}
	var member Recorder // send → one member's receipt
	onFrame := func(b []byte) {
		p, ok := findMarker(b, markerKey)
		if !ok || p.phase != ph.ID {
			return
		}
		k, err := strconv.Atoi(p.tag)
		if err != nil || k < 0 || k >= len(msgs) {
			return
		}
		now := time.Now().UnixNano()
		m := msgs[k]
		if k > 0 {
			member.Add(time.Duration(now - p.sent))
		}
		for {
			last := m.last.Load()
			if now <= last || m.last.CompareAndSwap(last, now) {
				break
			}
		}
		if m.count.Add(1) >= g {
			m.once.Do(func() { close(m.done) })
		}
	}
	r.progress("fanout: connecting %d members", c.GroupSize)
	start := time.Now()
	clients := make([]*wsClient, c.GroupSize)
	defer func() { closeAll(nonNil(clients)) }()
	if err := parallel(ctx, 32, c.GroupSize, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		var err error
		clients[i], err = dialWS(dctx, r.wsHTTPClient(), r.t.URL, r.t.AppID, r.tokens[i], onFrame)
		if err != nil {
			return fmt.Errorf("connect member %d: %w", i, err)
		}
		return nil
	}); err != nil {
		return err
	}
	connect := time.Since(start)
	r.progress("fanout: %d members connected in %.1fs; %d messages", c.GroupSize, connect.Seconds(), c.FanoutMessages)
	var all Recorder // send → the last member's receipt
	complete := 0
	for k, m := range msgs {
		at := time.Now()
		m.sent.Store(at.UnixNano())
		if err := r.api.sendText(ctx, r.members[0], r.group, "group", marker(ph.ID, at, strconv.Itoa(k)), -1); err != nil {
			return fmt.Errorf("send to the group: %w", err)
		}
		select {
		case <-m.done:
			if k > 0 {
				all.Add(time.Duration(m.last.Load() - m.sent.Load()))
				complete++
			}
		case <-time.After(fanoutWait):
			r.progress("fanout: message %d reached %d of %d members in %s", k, m.count.Load(), g, fanoutWait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.rep.Fanout = &FanoutReport{Members: c.GroupSize, Messages: c.FanoutMessages, Complete: complete, ConnectSec: connect.Seconds(),
		AllMembers: all.Summary(), OneMember: member.Summary()}
	r.progress("fanout: every member has it after p50 %.1f ms, max %.1f ms", r.rep.Fanout.AllMembers.P50, r.rep.Fanout.AllMembers.Max)
	return nil
}

// runConns opens Conns idle WebSockets (one per user) and measures what
// they cost the server: in-process, the growth of the Go heap and
// goroutine stacks after a full GC (the clients are bare sockets, see
// dialIdle, so nearly all of it is the server's), and of the process's
// resident memory; against a --url target, the growth of its resident
// memory when its pid is known.
func (r *runner) runConns(ctx context.Context) error {
	c := r.cfg
	n := c.Conns
	if n <= 0 {
		return nil
	}
	if r.t.LiveConns != nil && !waitFor(ctx, 10*time.Second, func() bool { return r.t.LiveConns() == 0 }) {
		r.progress("conns: %d connections of earlier phases are still open", r.t.LiveConns())
	}
	u, err := url.Parse(r.t.URL)
	if err != nil {
		return err
	}
	// The clients run in a child process when the server is in this one
	// and a parley binary is at hand: see childIdle.
	var clients idleClients = &localIdle{}
	perConn := uint64(1) // this process's descriptors per connection
	where := "in this process"
	if r.t.InProcess {
		perConn = 2 // both ends
		if r.t.Exe != "" {
			child, err := startChildIdle(r.t.Exe)
			if err != nil {
				return fmt.Errorf("start the connection holder: %w", err)
			}
			clients, perConn, where = child, 1, "in a child process"
		}
	}
	defer func() {
		clients.close()
		if r.t.LiveConns != nil {
			waitFor(ctx, 10*time.Second, func() bool { return r.t.LiveConns() == 0 })
		}
	}()
	limit, err := raiseFileLimit(uint64(n)*perConn + 4096)
	if err != nil {
		r.progress("conns: raise the open-file limit: %v", err)
	}
	if most := int((limit - min(limit, 4096)) / perConn); most < n {
		r.progress("conns: the open-file limit (%d) allows %d connections, not %d", limit, most, n)
		n = most
	}
	measureGo := r.t.InProcess
	measureRSS := r.t.PID > 0
	if measureGo && c.MemProfile != "" {
		runtime.MemProfileRate = 1 // see Config.MemProfile
	}
	var goBefore goMem
	var rssBefore procMem
	if measureGo {
		goBefore = readGoMemSettled()
	}
	if measureRSS {
		if rssBefore, err = readProcMem(r.t.PID); err != nil {
			return err
		}
	}
	r.progress("conns: opening %d idle WebSockets (clients %s)", n, where)
	start := time.Now()
	paths := make([]string, n)
	for i := range paths {
		paths[i] = "/v3/ws?appId=" + url.QueryEscape(r.t.AppID) + "&authToken=" + url.QueryEscape(r.tokens[i])
	}
	if err := clients.open(ctx, u.Host, paths); err != nil {
		return err
	}
	opened := time.Since(start)
	if r.t.LiveConns != nil && !waitFor(ctx, 10*time.Second, func() bool { return r.t.LiveConns() >= n }) {
		return fmt.Errorf("%d of %d connections registered", r.t.LiveConns(), n)
	}
	rep := &ConnsReport{Conns: n, OpenSec: opened.Seconds()}
	var notes []string
	if measureGo {
		after := readGoMemSettled()
		rep.HeapPerConn = perN(after.Heap, goBefore.Heap, n)
		rep.StackPerConn = perN(after.Stack, goBefore.Stack, n)
		rep.BytesPerConn = rep.HeapPerConn + rep.StackPerConn
		rep.GoroutinesPerConn = float64(after.Goroutines-goBefore.Goroutines) / float64(n)
		notes = append(notes, "bytesPerConn: growth of the Go heap (HeapAlloc) and goroutine stacks (StackInuse) of the server's "+
			"process, measured after GC cycles until stacks stop shrinking (as they do on a server left idle); clients "+where)
		if c.MemProfile != "" {
			if err := writeHeapProfile(c.MemProfile); err != nil {
				return fmt.Errorf("heap profile: %w", err)
			}
			notes = append(notes, "heap profile in "+c.MemProfile)
		}
	}
	if measureRSS {
		after, err := readProcMem(r.t.PID)
		if err != nil {
			return err
		}
		rep.RSSPerConn = perN(after.RSS, rssBefore.RSS, n)
		notes = append(notes, fmt.Sprintf("rssPerConn: growth of VmRSS of pid %d", r.t.PID))
	}
	if !measureGo && !measureRSS {
		notes = append(notes, "memory not measured: give --pid of the target server")
	}
	rep.Method = strings.Join(notes, "; ")
	r.rep.Conns = rep
	r.progress("conns: %d open in %.1fs; %.1f KiB per connection (heap %.1f + stack %.1f), RSS %.1f KiB", n, opened.Seconds(),
		rep.BytesPerConn/1024, rep.HeapPerConn/1024, rep.StackPerConn/1024, rep.RSSPerConn/1024)
	return nil
}

// writeHeapProfile writes the heap profile as of the last GC (readGoMem
// has just run one) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func perN(after, before uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}
