package botkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
)

// Handler serves a bot's callback URL: it verifies each request, answers at
// once, and runs the bot's function for the callback afterwards, so that a
// slow bot never makes parley time out and retry. Create it with
// Verifier.Handler.
//
// Answers: 200 for an accepted callback (before the function runs) and for
// a duplicate; 401 for ErrUnauthorized, ErrBadSignature and
// ErrStaleTimestamp; 400 for ErrBadPayload; 405 for a method other than
// POST; 503 after Shutdown (parley retries later); 500 when the Verifier is
// misconfigured.
//
// parley delivers at least once: a callback whose 200 was lost is sent
// again with the same webhook-id. The Handler remembers the ids of the last
// RecentDeliveries callbacks it accepted and answers 200 to a repeat
// without running the function again. A repeat that arrives after more
// than that many other callbacks runs again.
type Handler struct {
	// OnError receives the errors returned by the function (and its
	// panics, as errors). Set it before serving. Nil logs them with
	// slog.Default().
	OnError func(cb *Callback, err error)

	verifier Verifier
	fn       func(ctx context.Context, cb *Callback) error

	// ctx is the context of every function call; Shutdown cancels it when
	// its own context ends first.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	running int           // function calls in progress
	idle    chan struct{} // closed when running drops to zero; replaced when it rises from zero
	closed  bool          // after Shutdown: new callbacks get 503
	seen    recentSet
}

// RecentDeliveries is how many webhook-ids a Handler remembers to drop
// duplicates: 4096 ids of about 30 bytes, under half a MiB with the map.
const RecentDeliveries = 4096

// Handler returns an http.Handler that verifies callbacks with (a copy of)
// v and calls fn for each accepted one, in a new goroutine, after answering
// 200. fn's context is cancelled only by Shutdown. Stop a bot cleanly by
// shutting down its http.Server first (no new callbacks), then calling
// Handler.Shutdown (running callbacks finish).
func (v *Verifier) Handler(fn func(ctx context.Context, cb *Callback) error) *Handler {
	ctx, cancel := context.WithCancel(context.Background())
	return &Handler{
		verifier: *v,
		fn:       fn,
		ctx:      ctx,
		cancel:   cancel,
		seen:     newRecentSet(RecentDeliveries),
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	cb, _, err := h.verifier.Verify(r)
	if err != nil {
		status, text := errorStatus(err)
		if status == http.StatusUnauthorized && h.verifier.Username != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="bot"`)
		}
		http.Error(w, text, status)
		return
	}
	id := r.Header.Get("webhook-id")
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	case !h.seen.add(id):
		h.mu.Unlock()
		_, _ = io.WriteString(w, "duplicate\n")
		return
	}
	h.running++
	if h.running == 1 {
		h.idle = make(chan struct{})
	}
	h.mu.Unlock()

	go h.run(cb)
	_, _ = io.WriteString(w, "ok\n")
}

// errorStatus maps a Verify error to an answer. The text names the kind of
// failure only: detail stays in the bot's own logs.
func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrBadSignature):
		return http.StatusUnauthorized, "bad signature"
	case errors.Is(err, ErrStaleTimestamp):
		return http.StatusUnauthorized, "stale timestamp"
	case errors.Is(err, ErrBadPayload):
		return http.StatusBadRequest, "bad payload"
	}
	return http.StatusInternalServerError, "bot misconfigured"
}

func (h *Handler) run(cb *Callback) {
	defer h.done()
	defer func() {
		if p := recover(); p != nil {
			h.report(cb, fmt.Errorf("botkit: callback panicked: %v", p))
		}
	}()
	if err := h.fn(h.ctx, cb); err != nil {
		h.report(cb, err)
	}
}

func (h *Handler) report(cb *Callback, err error) {
	if h.OnError != nil {
		h.OnError(cb, err)
		return
	}
	slog.Default().Error("botkit: callback failed", "bot", cb.Bot, "message", cb.Data.ID, "err", err)
}

func (h *Handler) done() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	if h.running == 0 {
		close(h.idle)
	}
}

// Wait blocks until no function call is running. Calls that start while it
// waits may or may not be waited for. Tests use it to wait for the effect
// of a callback without sleeping.
func (h *Handler) Wait() {
	h.mu.Lock()
	idle, running := h.idle, h.running
	h.mu.Unlock()
	if running > 0 {
		<-idle
	}
}

// Shutdown stops accepting callbacks (they get 503, so parley retries them
// later) and waits for the running function calls to return. If ctx ends
// first, it cancels the context of the running calls and returns ctx's
// error without waiting further. Calling Shutdown again waits again.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	idle, running := h.idle, h.running
	h.mu.Unlock()
	defer h.cancel()
	if running == 0 {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
