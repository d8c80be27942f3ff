package server

import (
	"net/http"
	"testing"
)

// TestKeyChangesTakeEffectAtOnce: authentication caches valid keys; a key
// that was used (and so cached) must lose its rights as soon as it is
// downgraded, and stop working as soon as it is deleted.
func TestKeyChangesTakeEffectAtOnce(t *testing.T) {
	t.Parallel()
	e := start(t)
	key := str(e.must("POST", "/v3/apikeys", map[string]any{"name": "ops", "scope": "fullAccess"}, nil).Data(), "apiKey")
	if key == "" {
		t.Fatal("no key value in the create answer")
	}
	with := hdr{"apiKey": key}
	e.must("GET", "/v3/users", nil, with) // cached now
	e.must("PUT", "/v3/apikeys/"+key, map[string]any{"scope": "authOnly"}, nil)
	e.fails(http.StatusForbidden, "AUTH_ERR_NO_ACCESS", "GET", "/v3/users", nil, with)
	e.must("POST", "/v3/users", map[string]any{"uid": "u1", "name": "U"}, with) // authOnly may still create users
	e.must("DELETE", "/v3/apikeys/"+key, nil, nil)
	e.fails(http.StatusUnauthorized, "AUTH_ERR_APIKEY_NOT_FOUND", "POST", "/v3/users", map[string]any{"uid": "u2", "name": "U"}, with)
}
