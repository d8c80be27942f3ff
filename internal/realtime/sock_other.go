//go:build !unix

package realtime

import (
	"errors"
	"net"
	"syscall"
)

// rawConnOf returns nil: outside unix, sock reads without a pool.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func (s *sock) fill() error { return errors.New("realtime: no raw reads on this platform") }
