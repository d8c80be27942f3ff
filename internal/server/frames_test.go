package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"parley/internal/app"
	"parley/internal/config"
	"parley/internal/store/storetest"
)

// recorder is an app.Publisher that records every frame the use cases
// publish, per recipient, and forwards it to the real hub.
//
// Why not read the frames from a WebSocket (env.dial)? The realtime
// snapshot in this branch looks connections up under a fixed app id in
// Hub.Publish, so frames never reach a socket of a real app; that package
// is being changed elsewhere and is left alone here. What a use case
// publishes, and to whom, is asserted here instead; the hub's own tests
// cover delivery.
type recorder struct {
	next app.Publisher

	mu      sync.Mutex
	frames  map[string][]frame // by uid, in publication order
	read    map[string]int     // frames of each uid already returned by wait
	changed chan struct{}      // closed and replaced at every Publish
}

func (r *recorder) Publish(appID string, uids []string, b []byte) {
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		panic("recorder: undecodable frame " + string(b))
	}
	r.mu.Lock()
	for _, u := range uids {
		r.frames[u] = append(r.frames[u], f)
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	r.next.Publish(appID, uids, b)
}

func (r *recorder) Online(appID, uid string) bool { return r.next.Online(appID, uid) }

// wait returns the next frame of type typ published to uid (frames of
// other types are skipped), failing the test after 5 s.
func (r *recorder) wait(t *testing.T, uid, typ string) frame {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		list := r.frames[uid]
		for i := r.read[uid]; i < len(list); i++ {
			if list[i].Type == typ {
				r.read[uid] = i + 1
				r.mu.Unlock()
				return list[i]
			}
		}
		r.read[uid] = len(list)
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %q frame published to %s within 5 s", typ, uid)
		}
	}
}

// none checks that no frame of type typ was published to uid since the
// last wait. Use cases publish before their HTTP answer, so after a call
// returns its frames are all recorded.
func (r *recorder) none(t *testing.T, uid, typ string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.frames[uid][r.read[uid]:] {
		if f.Type == typ {
			t.Fatalf("unexpected %q frame to %s: %v", typ, uid, f.Data)
		}
	}
}

// startRecording is start with a recorder between the use cases and the
// hub. It is installed before the server runs, so that no request can see
// the publisher change.
func startRecording(t *testing.T) (*env, *recorder) {
	t.Helper()
	cfg := config.Serve{Addr: "127.0.0.1:0", DB: storetest.URL(t, storetest.Engine(t))}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := Open(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: srv.Hub, frames: map[string][]frame{}, read: map[string]int{}, changed: make(chan struct{})}
	srv.App.SetPublisher(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return &env{t: t, srv: srv, base: "http://" + srv.Addr(), appID: srv.FirstApp.App.ID,
		restKey: srv.FirstApp.RESTAPIKey, authKey: srv.FirstApp.AuthKey}, rec
}
