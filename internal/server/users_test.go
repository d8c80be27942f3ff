package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestUsersLifecycle(t *testing.T) {
	t.Parallel()
	e := start(t)
	r := e.must("POST", "/v3/users", map[string]any{"uid": "Alice", "name": "Alice A", "metadata": map[string]any{"@private": map[string]any{"email": "a@example.org"}}, "tags": []string{"vip"}}, nil)
	if got := str(r.Data(), "uid"); got != "alice" {
		t.Fatalf("uid %q, want lower-cased alice", got)
	}
	if str(r.Data(), "status") != "offline" || str(r.Data(), "role") != "default" {
		t.Fatalf("defaults: %s", r.Raw)
	}
	e.fails(http.StatusConflict, "ERR_UID_ALREADY_EXISTS", "POST", "/v3/users", map[string]any{"uid": "alice", "name": "Again"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users", map[string]any{"uid": "bad uid!", "name": "x"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users", map[string]any{"uid": strings.Repeat("a", 101), "name": "x"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users", map[string]any{"uid": "nobody"}, nil)

	r = e.must("PUT", "/v3/users/ALICE", map[string]any{"name": "Alice B", "unset": []string{"metadata"}}, nil)
	if str(r.Data(), "name") != "Alice B" || r.Data()["metadata"] != nil || r.Data()["updatedAt"] == nil {
		t.Fatalf("update: %s", r.Raw)
	}
	if tags, _ := r.Data()["tags"].([]any); len(tags) != 1 || tags[0] != "vip" {
		t.Fatalf("tags lost on update: %s", r.Raw)
	}

	e.users("bob", "carol", "dave")
	r = e.must("GET", "/v3/users?perPage=2&page=2", nil, nil)
	if len(r.List()) != 2 || dig(r.Meta(), "pagination.total") != 4.0 || dig(r.Meta(), "pagination.total_pages") != 2.0 {
		t.Fatalf("page 2: %s", r.Raw)
	}
	r = e.must("GET", "/v3/users?searchKey=car", nil, nil)
	if len(r.List()) != 1 || r.List()[0]["uid"] != "carol" {
		t.Fatalf("search: %s", r.Raw)
	}

	e.must("DELETE", "/v3/users", map[string]any{"uidsToDeactivate": []string{"bob", "ghost"}}, nil)
	if n := len(e.must("GET", "/v3/users", nil, nil).List()); n != 3 {
		t.Fatalf("after deactivate: %d users listed, want 3", n)
	}
	if r := e.must("GET", "/v3/users?onlyDeactivated=true", nil, nil); len(r.List()) != 1 || r.List()[0]["uid"] != "bob" {
		t.Fatalf("onlyDeactivated: %s", r.Raw)
	}
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "POST", "/v3/users/bob/auth_tokens", nil, nil)
	r = e.must("PUT", "/v3/users", map[string]any{"uidsToActivate": []string{"bob"}}, nil)
	if ids, _ := r.Data()["activatedUids"].([]any); len(ids) != 1 {
		t.Fatalf("reactivate: %s", r.Raw)
	}

	e.must("DELETE", "/v3/users/dave", map[string]any{"permanent": true}, nil)
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "GET", "/v3/users/dave", nil, nil)
}

func TestAuthTokens(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.must("POST", "/v3/users", map[string]any{"uid": "alice", "name": "Alice"}, nil)
	// The auth key (authOnly) may create tokens.
	first := e.must("POST", "/v3/users/alice/auth_tokens", nil, hdr{"apiKey": e.authKey})
	tok := str(first.Data(), "authToken")
	if !strings.HasPrefix(tok, "alice_") {
		t.Fatalf("token %q", tok)
	}
	if again := e.must("POST", "/v3/users/alice/auth_tokens", nil, nil); str(again.Data(), "authToken") != tok {
		t.Fatalf("without force the existing token is returned: %s", again.Raw)
	}
	forced := e.must("POST", "/v3/users/alice/auth_tokens", map[string]any{"force": true}, nil)
	if str(forced.Data(), "authToken") == tok {
		t.Fatal("force must create a new token")
	}
	if n := len(e.must("GET", "/v3/users/alice/auth_tokens", nil, nil).List()); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
	e.must("GET", "/v3/users/alice/auth_tokens/"+tok, nil, nil)
	e.must("DELETE", "/v3/users/alice/auth_tokens/"+tok, nil, nil)
	e.fails(http.StatusNotFound, "ERR_AUTH_TOKEN_NOT_FOUND", "GET", "/v3/users/alice/auth_tokens/"+tok, nil, nil)
	e.must("DELETE", "/v3/users/alice/auth_tokens", nil, nil)
	if n := len(e.must("GET", "/v3/users/alice/auth_tokens", nil, nil).List()); n != 0 {
		t.Fatalf("%d tokens after delete all", n)
	}
}

func TestAuthErrorsAndScopes(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.fails(http.StatusUnauthorized, "AUTH_ERR_EMPTY_APPID", "GET", "/v3/users", nil, hdr{"appId": ""})
	e.fails(http.StatusUnauthorized, "AUTH_ERR_INVALID_APPID", "GET", "/v3/users", nil, hdr{"appId": "nope"})
	e.fails(http.StatusUnauthorized, "AUTH_ERR_EMPTY_APIKEY", "GET", "/v3/users", nil, hdr{"apiKey": ""})
	e.fails(http.StatusUnauthorized, "AUTH_ERR_APIKEY_NOT_FOUND", "GET", "/v3/users", nil, hdr{"apiKey": strings.Repeat("0", 40)})
	e.fails(http.StatusForbidden, "AUTH_ERR_NO_ACCESS", "GET", "/v3/users", nil, hdr{"apiKey": e.authKey})
	e.fails(http.StatusForbidden, "AUTH_ERR_NO_ACCESS", "POST", "/v3/messages", map[string]any{}, hdr{"apiKey": e.authKey})
	// authOnly may create users; the lower-case header name works too.
	e.must("POST", "/v3/users", map[string]any{"uid": "u1", "name": "U"}, hdr{"apikey": e.authKey})

	e.fails(http.StatusNotFound, "ERR_API_NOT_FOUND", "GET", "/v3/nothing-here", nil, nil)
	e.fails(http.StatusNotFound, "ERR_API_NOT_FOUND", "PATCH", "/v3/users", nil, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users", `{"uid": "x",`, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users", `[1,2]`, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users", map[string]any{"uid": 7, "name": "x"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/users?perPage=5000", nil, nil)
	big := `{"uid":"big","name":"` + strings.Repeat("x", 200<<10) + `"}`
	e.fails(http.StatusRequestEntityTooLarge, "ERR_PAYLOAD_TOO_LARGE", "POST", "/v3/users", big, nil)
	// Unknown fields are ignored.
	e.must("POST", "/v3/users", map[string]any{"uid": "u2", "name": "U", "favouriteColour": "blue"}, nil)
}

func TestAppIsolation(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.user("alice")
	other, err := e.srv.App.CreateApp(t.Context(), "Other", "eu")
	if err != nil {
		t.Fatal(err)
	}
	o := hdr{"appId": other.App.ID, "apiKey": other.RESTAPIKey}
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "GET", "/v3/users/alice", nil, o)
	if n := len(e.must("GET", "/v3/users", nil, o).List()); n != 0 {
		t.Fatalf("other app lists %d users", n)
	}
	// One app's key does not open another app.
	e.fails(http.StatusUnauthorized, "AUTH_ERR_APIKEY_NOT_FOUND", "GET", "/v3/users", nil, hdr{"appId": other.App.ID})
	// The same uid may exist in both apps.
	e.must("POST", "/v3/users", map[string]any{"uid": "alice", "name": "Other Alice"}, o)
	if r := e.must("GET", "/v3/users/alice", nil, nil); str(r.Data(), "name") != "Alice" {
		t.Fatalf("first app's alice changed: %s", r.Raw)
	}
	// The app may also come from the host name {appId}.api-{region}.<domain>.
	r := e.must("GET", "/v3/users/alice", nil, hdr{"appId": "", "apiKey": other.RESTAPIKey, "Host": other.App.ID + ".api-eu.chat.example.org"})
	if str(r.Data(), "name") != "Other Alice" {
		t.Fatalf("host-label app: %s", r.Raw)
	}
}

func TestPrivateMetadataStaysPrivate(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.must("POST", "/v3/users", map[string]any{"uid": "alice", "name": "Alice", "metadata": map[string]any{"@private": map[string]any{"email": "alice@example.org"}, "team": "blue"}}, nil)
	bobTok := e.user("bob")
	bob := e.dial(bobTok)
	if r := e.must("GET", "/v3/users/alice", nil, nil); !strings.Contains(string(r.Raw), "alice@example.org") {
		t.Fatalf("the admin API must show private metadata: %s", r.Raw)
	}
	sent := e.say("alice", "bob", "hi")
	f := bob.nextOf("message")
	for what, raw := range map[string]string{"answer": string(sent.Raw), "frame": fmt.Sprint(f.Data)} {
		if strings.Contains(raw, "alice@example.org") || !strings.Contains(raw, "blue") {
			t.Fatalf("%s leaks private metadata or lost the public part: %s", what, raw)
		}
	}
}
