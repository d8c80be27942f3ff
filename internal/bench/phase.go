package bench

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Every message the bench sends carries a marker as its text:
//
//	pb|<phase>|<send time, Unix ns>|<tag>
//
// so that whoever receives it (the recording endpoint, a WebSocket client,
// the ceiling's second hop) can tell which phase it belongs to and how long
// it took, without a lookup table and without decoding the whole JSON
// document: the marker is found by a byte search for markerKey. The send
// time is the time the schedule intended (open loop) or the time the
// request started (closed loop), read from this process's clock; every
// receiver runs in this process too. A bot's reply carries the same fields
// behind replyKey.
var (
	markerKey = []byte(`"text":"pb|`)
	replyKey  = []byte(`"text":"re|`)
)

// marker is the text of message seq of a phase sent at (intended) time at.
func marker(phase int, at time.Time, tag string) string {
	return "pb|" + strconv.Itoa(phase) + "|" + strconv.FormatInt(at.UnixNano(), 10) + "|" + tag
}

// parsed is a marker found in a body.
type parsed struct {
	phase int
	sent  int64 // Unix ns
	tag   string
}

// findMarker looks for key in body and parses the fields after it.
func findMarker(body, key []byte) (parsed, bool) {
	i := bytes.Index(body, key)
	if i < 0 {
		return parsed{}, false
	}
	rest := body[i+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return parsed{}, false
	}
	fields := bytes.SplitN(rest[:end], []byte{'|'}, 3)
	if len(fields) < 2 {
		return parsed{}, false
	}
	phase, err1 := strconv.Atoi(string(fields[0]))
	sent, err2 := strconv.ParseInt(string(fields[1]), 10, 64)
	if err1 != nil || err2 != nil {
		return parsed{}, false
	}
	p := parsed{phase: phase, sent: sent}
	if len(fields) == 3 {
		p.tag = string(fields[2])
	}
	return p, true
}

// Phase counts and times the messages of one measured run. Its window is
// the steady part of the run (after the warm-up, until sending stops):
// receipts inside it count towards the rate, and messages sent inside it
// towards the latency. Messages that arrive after the window still have
// their latency recorded (the run drains before the next starts), so
// slow messages are never left out of the quantiles.
type Phase struct {
	ID   int
	Name string

	win *window

	sent     atomic.Int64 // sends the target accepted (2xx)
	errors   atomic.Int64 // sends refused or failed
	got      atomic.Int64 // receipts, in or out of the window
	inWindow atomic.Int64 // receipts inside the window

	lat Recorder // sent inside the window → received
	ack Recorder // sent inside the window → 2xx answer to the send

	errMu    sync.Mutex
	firstErr string

	// cpu reads the CPU time used so far by the process under test
	// (nil: unknown); cpuUsed is what the window used.
	cpu     func() time.Duration
	cpuUsed time.Duration
}

// window is a measurement window; phases of one run (a message and the
// reply it causes) share it.
type window struct {
	from, to atomic.Int64 // Unix ns; to == 0: open
}

// start opens the window at t.
func (p *Phase) start(t time.Time) { p.win.from.Store(t.UnixNano()) }

// stop closes the window at t.
func (p *Phase) stop(t time.Time) { p.win.to.Store(t.UnixNano()) }

func (p *Phase) inside(ns int64) bool {
	from, to := p.win.from.Load(), p.win.to.Load()
	return from != 0 && ns >= from && (to == 0 || ns < to)
}

// received records the arrival, at now, of a message sent at sent (Unix ns).
func (p *Phase) received(sent int64, now time.Time) {
	p.got.Add(1)
	if p.inside(now.UnixNano()) {
		p.inWindow.Add(1)
	}
	if p.inside(sent) {
		p.lat.Add(time.Duration(now.UnixNano() - sent))
	}
}

// acked records the answer to a send.
func (p *Phase) acked(sent time.Time, err error) {
	if err != nil {
		p.errors.Add(1)
		p.errMu.Lock()
		if p.firstErr == "" {
			p.firstErr = err.Error()
		}
		p.errMu.Unlock()
		return
	}
	p.sent.Add(1)
	if p.inside(sent.UnixNano()) {
		p.ack.Add(time.Since(sent))
	}
}

// window returns the window's length.
func (p *Phase) window() time.Duration {
	from, to := p.win.from.Load(), p.win.to.Load()
	if from == 0 || to == 0 {
		return 0
	}
	return time.Duration(to - from)
}

// Result is a phase's figures.
type Result struct {
	Sent       int64   `json:"sent"`
	Errors     int64   `json:"errors,omitempty"`
	FirstError string  `json:"firstError,omitempty"`
	Received   int64   `json:"received"`
	Missing    int64   `json:"missing,omitempty"` // accepted but not received when the drain ended
	WindowSec  float64 `json:"windowSec"`
	Rate       float64 `json:"msgsPerSec"` // receipts per second inside the window
	Latency    Latency `json:"latency"`    // send → receipt
	Ack        Latency `json:"ack"`        // send → 2xx
	// CPUPerMsg is the CPU time the measured process used in the window
	// per receipt, in µs (see Report.CPUScope).
	CPUPerMsg float64 `json:"cpuUsPerMsg,omitempty"`
}

// result summarizes the phase.
func (p *Phase) result() Result {
	r := Result{Sent: p.sent.Load(), Errors: p.errors.Load(), Received: p.got.Load(), Latency: p.lat.Summary(), Ack: p.ack.Summary()}
	p.errMu.Lock()
	r.FirstError = p.firstErr
	p.errMu.Unlock()
	if r.Sent > r.Received {
		r.Missing = r.Sent - r.Received
	}
	if w := p.window(); w > 0 {
		r.WindowSec = w.Seconds()
		r.Rate = float64(p.inWindow.Load()) / w.Seconds()
	}
	if n := p.inWindow.Load(); n > 0 && p.cpuUsed > 0 {
		r.CPUPerMsg = float64(p.cpuUsed.Microseconds()) / float64(n)
	}
	return r
}

// phases maps phase ids to phases for the receivers.
type phases struct {
	mu   sync.RWMutex
	byID map[int]*Phase
	next int
	cpu  func() time.Duration // given to every phase
}

// add registers a new phase with a window of its own.
func (ps *phases) add(name string) *Phase { return ps.addLinked(name, nil) }

// addLinked registers a new phase that shares parent's window (a new one
// when parent is nil).
func (ps *phases) addLinked(name string, parent *Phase) *Phase {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.byID == nil {
		ps.byID = map[int]*Phase{}
	}
	ps.next++
	p := &Phase{ID: ps.next, Name: name, win: &window{}, cpu: ps.cpu}
	if parent != nil {
		p.win = parent.win
	}
	ps.byID[p.ID] = p
	return p
}

func (ps *phases) get(id int) *Phase {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return ps.byID[id]
}
