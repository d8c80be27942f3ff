package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// idleClients is a set of idle WebSocket clients (see dialIdle).
type idleClients interface {
	// open connects one client per path to addr; it returns when all
	// are connected (and registered by the server) or one failed.
	open(ctx context.Context, addr string, paths []string) error
	// close ends every connection.
	close()
}

// localIdle keeps the clients in this process. With the server in this
// process too, each connection costs two file descriptors here.
type localIdle struct{ conns []net.Conn }

func (l *localIdle) open(ctx context.Context, addr string, paths []string) error {
	l.conns = make([]net.Conn, len(paths))
	return parallel(ctx, 64, len(paths), func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		var err error
		if l.conns[i], err = dialIdle(dctx, addr, paths[i]); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		return nil
	})
}

func (l *localIdle) close() {
	for _, c := range l.conns {
		if c != nil {
			c.Close()
		}
	}
}

// childIdle keeps the clients in a child process (`parley bench
// --hold-conns`, see HoldConns), so that this process holds only the
// server's end of each connection: 10,000 connections then fit in the
// usual open-file limit of 20,000 on both sides, and nothing of the
// clients is counted in this process's memory.
type childIdle struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	done   chan error
	close1 sync.Once
}

func startChildIdle(exe string) (*childIdle, error) {
	cmd := exec.Command(exe, "bench", "--hold-conns")
	cmd.Env = []string{}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &childIdle{cmd: cmd, in: in, out: bufio.NewScanner(out), done: make(chan error, 1)}
	return c, nil
}

func (c *childIdle) open(ctx context.Context, addr string, paths []string) error {
	w := bufio.NewWriter(c.in)
	fmt.Fprintln(w, addr)
	for _, p := range paths {
		fmt.Fprintln(w, p)
	}
	fmt.Fprintln(w)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("connection holder: %w", err)
	}
	answer := make(chan string, 1)
	go func() {
		if c.out.Scan() {
			answer <- c.out.Text()
		}
		close(answer)
	}()
	select {
	case line, ok := <-answer:
		if !ok {
			return errors.New("connection holder exited")
		}
		if msg, isErr := strings.CutPrefix(line, "error "); isErr {
			return errors.New(msg)
		}
		if line != "open "+strconv.Itoa(len(paths)) {
			return fmt.Errorf("connection holder: %q", line)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *childIdle) close() {
	c.close1.Do(func() {
		c.in.Close() // EOF: the child closes its connections and exits
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
}

// HoldConns is the child side of childIdle: it reads an address and then
// one path per line up to an empty line, opens an idle WebSocket to each,
// answers "open N" (or "error ..."), and keeps them open until its input
// ends.
func HoldConns(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	if !sc.Scan() {
		return errors.New("hold-conns: no address")
	}
	addr := sc.Text()
	if _, err := loopbackBase("http://" + addr); err != nil {
		return err
	}
	var paths []string
	for sc.Scan() && sc.Text() != "" {
		paths = append(paths, sc.Text())
	}
	if _, err := raiseFileLimit(uint64(len(paths)) + 1024); err != nil {
		fmt.Fprintf(out, "error raise the open-file limit: %v\n", err)
		return err
	}
	var l localIdle
	defer l.close()
	if err := l.open(ctx, addr, paths); err != nil {
		fmt.Fprintf(out, "error %v\n", err)
		return err
	}
	fmt.Fprintf(out, "open %d\n", len(paths))
	for sc.Scan() { // until EOF
	}
	return nil
}
