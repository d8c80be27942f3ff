package realtime

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"sync"
	"syscall"
)

// The WebSocket library reads and writes through the bufio.Reader and
// bufio.Writer that hijacking the connection returns, for the connection's
// whole life. net/http's are 4 KiB each: more than half of an idle
// connection's heap. Accept therefore hands the library a sock with 16-byte ones
// (hijackWriter), and sock borrows a pooled buffer only while data passes:
//
//   - reading, it waits for the socket to become readable without a buffer
//     (syscall.RawConn), then reads what has arrived into a pooled buffer
//     and serves the library's small reads from it until it is empty, so a
//     client frame still costs one read(2) per sockBufSize bytes;
//   - writing, the 16-byte bufio.Writer hands over a frame in at most two
//     pieces (the header with the payload's first bytes, then the rest);
//     sock parses the frame headers of what it is given, keeps an
//     incomplete frame in a pooled buffer and, once complete, writes it
//     with one write(2) (or, for a frame larger than the pooled buffer,
//     head and rest with one writev(2)). The library writes each frame
//     whole under its write lock, so an incomplete frame is never kept past
//     the library's write call.
//
// An idle connection then holds two 16-byte buffers and no pooled one
// (sizes: sockBufSize, libBufSize).

// bufPool holds *[]byte of capacity sockBufSize.
type bufPool struct{ p sync.Pool }

func (bp *bufPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, sockBufSize)
	return &b
}

// put returns b to the pool unless it grew (a large frame): those are left
// to the garbage collector so that the pool holds small buffers only.
func (bp *bufPool) put(b *[]byte) {
	if cap(*b) != sockBufSize {
		return
	}
	*b = (*b)[:sockBufSize]
	bp.p.Put(b)
}

// hijackWriter is the http.ResponseWriter that Accept passes to
// websocket.Accept: its Hijack returns the connection as a sock with small
// bufio buffers, and keeps the sock for Accept. net/http's own buffers
// become garbage.
type hijackWriter struct {
	http.ResponseWriter
	pool *bufPool
	sock *sock // set by Hijack
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.sock != nil {
		return nil, nil, http.ErrHijacked
	}
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http has flushed the 101 response; write anything left anyway.
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			_ = nc.Close()
			return nil, nil, err
		}
	}
	s := &sock{Conn: nc, pool: w.pool, raw: rawConnOf(nc)}
	// Bytes the client sent right after the upgrade request, which net/http
	// read ahead.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		s.rest = bytes.Clone(b)
	}
	w.sock = s
	return s, bufio.NewReadWriter(bufio.NewReaderSize(s, libBufSize), bufio.NewWriterSize(s, libBufSize)), nil
}

// sock is the hijacked connection with reads and writes buffered in pooled
// buffers only while data passes; see above. Reads are serialized by the
// library's read lock, writes by its write lock; Close may come at any time
// and leaves the buffers to the garbage collector.
type sock struct {
	net.Conn
	pool *bufPool
	raw  syscall.RawConn // nil: reads block in Conn.Read with the caller's buffer

	rest  []byte  // received, not yet read; in rheld, or read ahead by net/http
	rheld *[]byte // the pooled buffer rest is in, if any

	wheld *[]byte // an incomplete frame, if any
}

func (s *sock) Read(p []byte) (int, error) {
	if len(s.rest) > 0 {
		n := copy(p, s.rest)
		s.rest = s.rest[n:]
		if len(s.rest) == 0 {
			s.rest = nil
			if s.rheld != nil {
				s.pool.put(s.rheld)
				s.rheld = nil
			}
		}
		return n, nil
	}
	if s.raw == nil || len(p) >= sockBufSize {
		return s.Conn.Read(p)
	}
	if err := s.fill(); err != nil {
		return 0, err
	}
	return s.Read(p)
}

// Write passes on whole frames at once and holds an incomplete one until
// the rest comes. A held frame is written with one write(2): copied whole
// into the pooled buffer when it fits, else (a large frame: the held head
// and the large rest) as two pieces with one writev(2), without copying
// the rest.
func (s *sock) Write(p []byte) (int, error) {
	if s.wheld == nil {
		if completeFrames(nil, p) {
			return s.Conn.Write(p)
		}
		s.wheld = s.pool.get()
		*s.wheld = append((*s.wheld)[:0], p...)
		return len(p), nil
	}
	held := *s.wheld
	if !completeFrames(held, p) {
		*s.wheld = append(held, p...)
		return len(p), nil
	}
	var err error
	if len(held)+len(p) <= cap(held) {
		_, err = s.Conn.Write(append(held, p...))
	} else {
		bufs := net.Buffers{held, p}
		_, err = bufs.WriteTo(s.Conn)
	}
	s.pool.put(s.wheld)
	s.wheld = nil
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// completeFrames reports whether a followed by b, which starts at a frame
// boundary, is a sequence of whole WebSocket frames (RFC 6455 section 5.2).
func completeFrames(a, b []byte) bool {
	n := uint64(len(a)) + uint64(len(b))
	at := func(i uint64) uint64 {
		if i < uint64(len(a)) {
			return uint64(a[i])
		}
		return uint64(b[i-uint64(len(a))])
	}
	for o := uint64(0); o < n; {
		if n-o < 2 {
			return false
		}
		l, h := at(o+1)&0x7f, uint64(2)
		switch l {
		case 126:
			h = 4
		case 127:
			h = 10
		}
		if n-o < h {
			return false
		}
		if h > 2 {
			l = 0
			for i := o + 2; i < o+h; i++ {
				l = l<<8 | at(i)
			}
		}
		if at(o+1)&0x80 != 0 {
			h += 4 // masking key
		}
		if l > n || h+l > n-o {
			return false
		}
		o += h + l
	}
	return true
}
