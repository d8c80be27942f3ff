package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Endpoint is the recording bot endpoint: the callback URL of every bench
// bot, in this process. Each bot listens on a loopback port of its own, so
// that the server's outbound connection pool sees one host per bot, as it
// would with real bots. A receipt is recorded in the phase its marker
// names, at the moment the request's body has been read.
type Endpoint struct {
	phases   *phases
	wg       sync.WaitGroup // servers and reply goroutines
	inFlight atomic.Int64   // requests being served

	mu      sync.Mutex
	servers []*http.Server
	release chan struct{} // closed: slow bots answer at once
}

// botKind is how a bench bot answers.
type botKind int

const (
	botFast  botKind = iota // 200 at once
	botSlow                 // 200 after a delay (or when released)
	botReply                // 200 at once, then replies through the API
)

// botSpec describes one endpoint.
type botSpec struct {
	kind  botKind
	delay time.Duration // botSlow
	// reply posts the bot's answer to the marker's sender (botReply); it
	// runs after the callback was answered, as a real bot's work does.
	reply func(ctx context.Context, p parsed) error
}

func newEndpoint(ps *phases) *Endpoint {
	return &Endpoint{phases: ps, release: make(chan struct{})}
}

// add starts a bot's listener on 127.0.0.1:0 and returns its URL.
func (e *Endpoint) add(spec botSpec) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.serve(w, r, spec) }),
		ReadHeaderTimeout: 10 * time.Second}
	e.mu.Lock()
	e.servers = append(e.servers, srv)
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		_ = srv.Serve(ln) // ends with ErrServerClosed on close
	}()
	return "http://" + ln.Addr().String() + "/hook", nil
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request, spec botSpec) {
	e.inFlight.Add(1)
	defer e.inFlight.Add(-1)
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodyPool.Put(buf)
	if _, err := buf.ReadFrom(r.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	p, ok := findMarker(buf.Bytes(), markerKey)
	if ok {
		if ph := e.phases.get(p.phase); ph != nil {
			ph.received(p.sent, now)
		}
	}
	switch spec.kind {
	case botSlow:
		t := time.NewTimer(spec.delay)
		select {
		case <-t.C:
		case <-e.release:
		case <-r.Context().Done():
		}
		t.Stop()
	case botReply:
		if ok && spec.reply != nil {
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := spec.reply(ctx, p); err != nil {
					if ph := e.phases.get(p.phase); ph != nil {
						ph.acked(time.Now(), err)
					}
				}
			}()
		}
	}
	w.WriteHeader(http.StatusOK)
}

// idle reports whether no request is being served.
func (e *Endpoint) idle() bool { return e.inFlight.Load() == 0 }

// releaseSlow makes slow bots answer at once from now on.
func (e *Endpoint) releaseSlow() {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.release:
	default:
		close(e.release)
	}
}

// Close stops every listener and waits for requests and replies in flight.
func (e *Endpoint) Close() error {
	e.releaseSlow()
	e.mu.Lock()
	servers := e.servers
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var err error
	for _, s := range servers {
		err = errors.Join(err, s.Shutdown(ctx))
	}
	e.wg.Wait()
	return err
}

// Forwarder is the ceiling: a minimal Go server that forwards each POST to
// a bot's endpoint and answers once the endpoint has answered. A message
// sent through it makes the same two loopback HTTP hops as one relayed by
// parley (sender → server, server → bot), with nothing else: no parsing,
// no database, no signature. The bot is chosen by the Bench-Bot header.
type Forwarder struct {
	URL    string
	bots   []string
	client *http.Client
	srv    *http.Server
	done   chan struct{}
}

// headerBot names the bot (its index) a bench send is meant for; the
// forwarder routes by it and parley ignores it.
const headerBot = "Bench-Bot"

func newForwarder(bots []string, conns int) (*Forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Forwarder{URL: "http://" + ln.Addr().String(), bots: bots, client: newHTTPClient(conns), done: make(chan struct{})}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return f, nil
}

func (f *Forwarder) serve(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.Header.Get(headerBot))
	if err != nil || i < 0 || i >= len(f.bots) {
		http.Error(w, "bad Bench-Bot", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, f.bots[i], bytes.NewReader(body))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := f.client.Do(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	w.WriteHeader(res.StatusCode)
}

// Close stops the forwarder.
func (f *Forwarder) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := f.srv.Shutdown(ctx)
	<-f.done
	f.client.CloseIdleConnections()
	return err
}

// newHTTPClient returns a client that keeps up to conns keep-alive
// connections per host (the default of 2 would make most requests dial).
func newHTTPClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil, // loopback only: never a proxy
		MaxIdleConns:        conns * 4,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		DialContext:         loopbackDialer,
	}, Timeout: 30 * time.Second}
}

// loopbackDialer refuses any address that is not loopback: the bench
// sends traffic to this machine only.
func loopbackDialer(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, errors.New("bench: refusing to connect to " + addr + ": not a loopback address")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
