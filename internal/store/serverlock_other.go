//go:build !unix

package store

import "os"

// lockServer is not available here: a second server on one SQLite file is
// not detected.
func lockServer(string) (*os.File, error) { return nil, nil }
