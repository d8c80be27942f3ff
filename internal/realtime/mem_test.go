package realtime

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// BenchmarkIdleConnMemory measures the memory one idle connection costs the
// server: b.N connections (one user each) are opened and left idle, and the
// growth of heap and goroutine stacks is divided by b.N. Clients are raw TCP
// sockets that send the upgrade request and then do nothing, so their own
// cost (two file descriptors' net.Conn and poll descriptor, well under
// 1 KiB) is all that the figure includes besides the server side. Run with
// a fixed count, e.g.
//
//	go test -run '^$' -bench IdleConnMemory -benchtime 2000x ./internal/realtime/
//
// It reports figures and asserts nothing.
func BenchmarkIdleConnMemory(b *testing.B) {
	hub := New(Config{PingInterval: time.Hour}, nil, nil, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		hub.Accept(w, r, q.Get("app"), q.Get("uid"))
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	before := memSnapshot()
	conns := make([]net.Conn, 0, b.N)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			b.Error(err)
		}
	}()
	b.ResetTimer()
	for i := range b.N {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		req := fmt.Sprintf("GET /?app=app1&uid=u%d HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", i, addr)
		if _, err := c.Write([]byte(req)); err != nil {
			b.Fatal(err)
		}
		// Read the 101 response so that the server has upgraded; the
		// connected frame that follows stays in the socket buffer.
		resp, err := http.ReadResponse(bufio.NewReaderSize(c, 16), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			b.Fatalf("upgrade: %v %v", resp, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for n, _ := hub.Stats(); n < b.N; n, _ = hub.Stats() {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d connections registered", n, b.N)
		}
		runtime.Gosched()
	}
	b.StopTimer()
	after := memSnapshot()

	n := float64(b.N)
	b.ReportMetric(float64(after.heap-before.heap)/n, "heap-B/conn")
	b.ReportMetric(float64(after.stack-before.stack)/n, "stack-B/conn")
	b.ReportMetric(float64(after.heap+after.stack-before.heap-before.stack)/n, "B/conn")
	b.ReportMetric(float64(after.goroutines-before.goroutines)/n, "goroutines/conn")
}

type memFigures struct {
	heap, stack uint64
	goroutines  int
}

func memSnapshot() memFigures {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memFigures{heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
}
