package server

import (
	"io"
	"net/http"
	"testing"
)

// TestHealthAndReady: /healthz answers while the process lives, /readyz
// when the database answers at this binary's schema version.
func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, res.StatusCode, body)
		}
	}
}
