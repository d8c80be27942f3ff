package realtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// testFrameBytes builds a WebSocket frame header for a payload of n bytes followed
// by the payload (bytes counting up), masked or not.
func testFrameBytes(n int, masked bool) []byte {
	var b []byte
	second := byte(0)
	if masked {
		second = 0x80
	}
	switch {
	case n < 126:
		b = []byte{0x81, second | byte(n)}
	case n <= 0xffff:
		b = []byte{0x81, second | 126, 0, 0}
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b = make([]byte, 10)
		b[0], b[1] = 0x81, second|127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
	if masked {
		b = append(b, 1, 2, 3, 4)
	}
	for i := range n {
		b = append(b, byte(i))
	}
	return b
}

func TestCompleteFrames(t *testing.T) {
	t.Parallel()
	small, mid, big := testFrameBytes(5, false), testFrameBytes(300, false), testFrameBytes(70000, false)
	masked := testFrameBytes(10, true)
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"empty", nil, true},
		{"one byte", small[:1], false},
		{"header only", small[:2], false},
		{"small frame", small, true},
		{"small frame short by one", small[:len(small)-1], false},
		{"16-bit length, header cut", mid[:3], false},
		{"16-bit length frame", mid, true},
		{"16-bit length, payload cut", mid[:100], false},
		{"64-bit length, header cut", big[:9], false},
		{"64-bit length frame", big, true},
		{"64-bit length, payload cut", big[:len(big)-1], false},
		{"masked frame", masked, true},
		{"masked frame, key cut", masked[:4], false},
		{"two frames", append(append([]byte{}, small...), mid...), true},
		{"frame and part of the next", append(append([]byte{}, small...), mid[:5]...), false},
		{"length beyond any buffer", []byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
	}
	for _, tt := range tests {
		// Every split of b into a and b must give the same answer.
		for i := 0; i <= len(tt.b); i += 1 + i/8 {
			if got := completeFrames(tt.b[:i], tt.b[i:]); got != tt.want {
				t.Errorf("%s split at %d: completeFrames = %v, want %v", tt.name, i, got, tt.want)
				break
			}
		}
	}
}

// recordingConn is a net.Conn that records each Write and reads from r.
type recordingConn struct {
	net.Conn // nil: other methods are not used
	r        io.Reader
	writes   [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recordingConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestSockWritesWholeFrames writes random frames through a bufio.Writer of
// the library's size, as the library does (header, payload, flush), and
// checks that the connection gets every frame whole: in one write, or, for
// a frame larger than the pooled buffer, in the two pieces of one
// net.Buffers write (one writev(2) on a TCP connection; this fake takes
// them as two writes).
func TestSockWritesWholeFrames(t *testing.T) {
	t.Parallel()
	rc := &recordingConn{}
	var pool bufPool
	s := &sock{Conn: rc, pool: &pool}
	bw := bufio.NewWriterSize(s, libBufSize)
	rng := rand.New(rand.NewPCG(1, 2))
	var want [][]byte
	for range 500 {
		var n int
		switch rng.IntN(4) {
		case 0:
			n = rng.IntN(libBufSize)
		case 1:
			n = rng.IntN(126)
		case 2:
			n = 126 + rng.IntN(5000)
		default:
			n = rng.IntN(3 * sockBufSize)
		}
		f := testFrameBytes(n, false)
		if len(f) > sockBufSize {
			want = append(want, f[:libBufSize], f[libBufSize:])
		} else {
			want = append(want, f)
		}
		// The header byte by byte (the library writes its first two
		// bytes with WriteByte), then the rest in one Write.
		hdr := len(f) - n
		for _, b := range f[:hdr] {
			if err := bw.WriteByte(b); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := bw.Write(f[hdr:]); err != nil {
			t.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if len(rc.writes) != len(want) {
		t.Fatalf("%d writes, want %d", len(rc.writes), len(want))
	}
	for i := range want {
		if !bytes.Equal(rc.writes[i], want[i]) {
			t.Fatalf("write %d = %d bytes, want %d", i, len(rc.writes[i]), len(want[i]))
		}
	}
	if s.wheld != nil {
		t.Error("sock holds a buffer after complete frames")
	}
}

// TestSockWriteError checks that a failed write of a held frame is reported
// and the buffer is not kept.
func TestSockWriteError(t *testing.T) {
	t.Parallel()
	fail := errors.New("broken pipe")
	var pool bufPool
	s := &sock{Conn: failingConn{fail}, pool: &pool}
	f := testFrameBytes(100, false)
	if n, err := s.Write(f[:libBufSize]); n != libBufSize || err != nil {
		t.Fatalf("first piece: %d, %v; want it held", n, err)
	}
	if _, err := s.Write(f[libBufSize:]); !errors.Is(err, fail) {
		t.Fatalf("rest: err = %v, want %v", err, fail)
	}
	if s.wheld != nil {
		t.Error("sock keeps the buffer of a failed write")
	}
}

type failingConn struct {
	err error
}

func (failingConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c failingConn) Write([]byte) (int, error)      { return 0, c.err }
func (failingConn) Close() error                     { return nil }
func (failingConn) LocalAddr() net.Addr              { return nil }
func (failingConn) RemoteAddr() net.Addr             { return nil }
func (failingConn) SetDeadline(time.Time) error      { return nil }
func (failingConn) SetReadDeadline(time.Time) error  { return nil }
func (failingConn) SetWriteDeadline(time.Time) error { return nil }

// TestSockReadsReadAheadFirst checks that bytes net/http read ahead come
// before the socket's.
func TestSockReadsReadAheadFirst(t *testing.T) {
	t.Parallel()
	var pool bufPool
	s := &sock{Conn: &recordingConn{r: bytes.NewReader([]byte("world"))}, pool: &pool, rest: []byte("hello ")}
	got, err := io.ReadAll(bufio.NewReaderSize(s, libBufSize))
	if err != nil || string(got) != "hello world" {
		t.Errorf("read %q, %v; want \"hello world\"", got, err)
	}
}

// TestSockRawReads reads through a real TCP connection, where sock waits for
// data without a buffer and reads into a pooled one: small and large
// reads, data split over several sends, EOF, and a read deadline.
func TestSockRawReads(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	var pool bufPool
	s := &sock{Conn: server, pool: &pool, raw: rawConnOf(server)}
	if s.raw == nil {
		t.Skip("no raw connection on this platform")
	}
	br := bufio.NewReaderSize(s, libBufSize)

	// A read deadline ends a wait that holds no buffer.
	_ = s.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a deadline error", err)
	}
	if s.rheld != nil {
		t.Error("a buffer is held after a read that timed out")
	}
	_ = s.SetReadDeadline(time.Time{})
	br.Reset(s)

	want := make([]byte, 3*sockBufSize+123)
	for i := range want {
		want[i] = byte(i * 7)
	}
	go func() {
		for i := 0; i < len(want); i += 1000 {
			_, _ = client.Write(want[i:min(len(want), i+1000)])
		}
		_ = client.Close()
	}()
	got := make([]byte, 0, len(want))
	// Small reads (served from the pooled buffer) and large ones (straight
	// from the socket) alternate.
	for i := 0; ; i++ {
		size := 7
		if i%5 == 4 {
			size = sockBufSize + 1
		}
		p := make([]byte, size)
		n, err := br.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d sent", len(got), len(want))
	}
	if s.rheld != nil {
		t.Error("a buffer is held after the data was read")
	}
}

// TestFrameSentWithTheUpgrade sends a client frame in the same write as the
// upgrade request, so that net/http reads it ahead with the request; the
// hub must still read it.
func TestFrameSentWithTheUpgrade(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{}, nil, nil)
	addr := strings.TrimPrefix(h.srv.URL, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	req := "GET /?app=app1&uid=alice HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	ping := maskedTextFrame(`{"type":"ping","id":"early"}`)
	if _, err := c.Write(append([]byte(req), ping...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	for _, want := range []string{`{"type":"connected","data":{"uid":"alice","appId":"app1"}}`, `{"type":"pong","id":"early"}`} {
		got, err := readServerFrame(br)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if string(got) != want {
			t.Fatalf("frame = %s, want %s", got, want)
		}
	}
}

// TestLargeClientFrame sends a message frame larger than the pooled read
// buffers, and one that fits, and checks that the Sender gets each intact.
func TestLargeClientFrame(t *testing.T) {
	t.Parallel()
	bodies := make(chan string, 2)
	sender := senderFunc(func(_ context.Context, _, _ string, body json.RawMessage) (any, error) {
		bodies <- string(body)
		return "ok", nil
	})
	h := newHarness(t, Config{}, sender, nil)
	c := h.dial("app1", "alice")
	for _, n := range []int{40 << 10, 100} {
		body := `{"text":"` + strings.Repeat("y", n) + `"}`
		c.send(`{"type":"message","id":"big","data":` + body + `}`)
		if f := c.next(); f.Type != "ack" || f.ID != "big" {
			t.Fatalf("reply = %.80s, want an ack", f.raw)
		}
		if got := <-bodies; got != body {
			t.Errorf("Sender got %d bytes, want the %d sent", len(got), len(body))
		}
	}
}

// maskedTextFrame is a client text frame (masked with a zero key, which
// leaves the payload as it is) of a payload under 126 bytes.
func maskedTextFrame(payload string) []byte {
	return append([]byte{0x81, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// readServerFrame reads one unmasked server frame of under 64 KiB.
func readServerFrame(r *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return nil, err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return p, err
}

// FuzzCompleteFrames checks that completeFrames does not panic and that
// the answer does not depend on where its input is split.
func FuzzCompleteFrames(f *testing.F) {
	f.Add(testFrameBytes(5, false), 3)
	f.Add(testFrameBytes(300, true), 2)
	f.Add(append(testFrameBytes(70000, false), 0x81), 9)
	f.Add([]byte{0x81, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 5)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		whole := completeFrames(nil, b)
		i := int(uint(split) % uint(len(b)+1))
		if got := completeFrames(b[:i], b[i:]); got != whole {
			t.Errorf("split at %d: %v, whole: %v", i, got, whole)
		}
	})
}
