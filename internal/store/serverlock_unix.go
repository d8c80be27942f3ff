//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockServer takes an exclusive lock on path+"-serve.lock" for the life of
// the process (the file descriptor is kept open; the kernel drops the lock
// when the process ends, however it ends). A separate file, because closing
// any descriptor of the database file itself would drop SQLite's own locks.
func lockServer(path string) (*os.File, error) {
	f, err := os.OpenFile(path+"-serve.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another parley serve is using %s (one process serves a SQLite database; use PostgreSQL for several nodes)", path)
		}
		return nil, fmt.Errorf("serve lock: %w", err)
	}
	return f, nil
}
