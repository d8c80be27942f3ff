//go:build unix

package realtime

import (
	"io"
	"net"
	"os"
	"syscall"
)

// rawConnOf returns nc's syscall.RawConn, or nil when it has none (a
// TLS connection, a test pipe): sock then reads without a pool.
func rawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// fill waits, holding no buffer, until the socket is readable (or closed,
// or past its read deadline), then reads what has arrived into a pooled
// buffer that becomes s.rest.
func (s *sock) fill() error {
	var (
		b    *[]byte
		n    int
		rerr error
	)
	err := s.raw.Read(func(fd uintptr) bool {
		b = s.pool.get()
		for {
			n, rerr = syscall.Read(int(fd), *b)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			s.pool.put(b)
			b = nil
			return false // the runtime waits for readiness and calls again
		}
		return true
	})
	switch {
	case err != nil:
		return err // closed or past the deadline; no buffer is held
	case rerr != nil:
		s.pool.put(b)
		return os.NewSyscallError("read", rerr)
	case n == 0:
		s.pool.put(b)
		return io.EOF
	}
	s.rheld, s.rest = b, (*b)[:n]
	return nil
}
