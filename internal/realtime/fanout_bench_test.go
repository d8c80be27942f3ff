package realtime

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// BenchmarkPublishFanout publishes one frame to 500 connected users (one
// connection each) per op and waits until every client has read it: the
// hub's cost of a fan-out (queueing, starting writers, writing) plus the
// clients' reading, which runs in the same process. cpu-ns/frame is the
// process's CPU time per frame delivered. Run e.g.
//
//	go test -run '^$' -bench PublishFanout -benchtime 2000x ./internal/realtime/
func BenchmarkPublishFanout(b *testing.B) {
	const members = 500
	hub := New(Config{PingInterval: time.Hour}, nil, nil, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		hub.Accept(w, r, q.Get("app"), q.Get("uid"))
	}))
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")

	var received atomic.Int64
	var target atomic.Int64
	reached := make(chan struct{}, 1)
	var readers sync.WaitGroup
	var clients []*websocket.Conn
	uids := make([]string, members)
	for i := range members {
		uids[i] = fmt.Sprintf("u%d", i)
		c, _, err := websocket.Dial(context.Background(), base+"/?app=app1&uid="+uids[i], nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(context.Background()); err != nil { // connected
			b.Fatal(err)
		}
		clients = append(clients, c)
		readers.Go(func() {
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
				if received.Add(1) == target.Load() {
					reached <- struct{}{}
				}
			}
		})
	}
	defer func() {
		for _, c := range clients {
			_ = c.CloseNow()
		}
		readers.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = hub.Shutdown(ctx)
	}()
	frame, err := Encode("message", map[string]string{"text": strings.Repeat("x", 200)})
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU()
	b.ResetTimer()
	for i := range b.N {
		target.Store(int64(i+1) * members)
		hub.Publish("app1", uids, frame)
		select {
		case <-reached:
		case <-time.After(30 * time.Second):
			b.Fatalf("op %d: %d of %d frames received", i, received.Load(), target.Load())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/members, "cpu-ns/frame")
}

// processCPU is the CPU time (user and system) this process has used: a
// figure that other work on a shared machine disturbs much less than wall
// time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
