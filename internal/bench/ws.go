package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsURL is the real-time endpoint of a user.
func wsURL(base, appID, token string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/v3/ws?appId=" + url.QueryEscape(appID) + "&authToken=" + url.QueryEscape(token)
}

// wsClient is a live WebSocket connection whose frames are handed to
// onFrame by a reader goroutine until it is closed.
type wsClient struct {
	conn *websocket.Conn
	done chan struct{}
}

// dialWS connects a user and starts reading. The first frame (connected)
// is read before it returns, so the user is registered with the hub when
// it does.
func dialWS(ctx context.Context, hc *http.Client, base, appID, token string, onFrame func([]byte)) (*wsClient, error) {
	c, _, err := websocket.Dial(ctx, wsURL(base, appID, token), &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	_, first, err := c.Read(ctx)
	if err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("first frame: %w", err)
	}
	if !strings.Contains(string(first), `"connected"`) {
		c.CloseNow()
		return nil, fmt.Errorf("first frame is not connected: %.100s", first)
	}
	w := &wsClient{conn: c, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			onFrame(b)
		}
	}()
	return w, nil
}

// close ends the connection without a handshake and waits for the reader.
func (w *wsClient) close() {
	w.conn.CloseNow()
	<-w.done
}

// closeAll closes clients in parallel.
func closeAll(clients []*wsClient) {
	var wg sync.WaitGroup
	for i := 0; i < len(clients); i += 100 {
		part := clients[i:min(len(clients), i+100)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range part {
				c.close()
			}
		}()
	}
	wg.Wait()
}

// dialIdle opens a WebSocket at the socket level and leaves it idle: it
// sends the upgrade request, reads the 101 answer and the connected
// frame, and keeps only the net.Conn. Such a client costs this process a
// socket and nothing else (no goroutine, no buffers), so that the memory
// measured in-process is the server's. It does not answer pings; the
// measurement ends long before the first one (25 s).
func dialIdle(ctx context.Context, addr, path string) (net.Conn, error) {
	c, err := loopbackDialer(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(c, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("upgrade: status %d", res.StatusCode)
	}
	// The connected frame: the hub queues it before registering the
	// connection and writes it after, so once it is read the connection
	// is registered.
	if _, err := readFrame(br); err != nil {
		c.Close()
		return nil, fmt.Errorf("connected frame: %w", err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// readFrame reads one unmasked server frame and returns its payload.
func readFrame(r *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		return nil, errors.New("frame too large")
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return p, err
}
