package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestPagesNeedALogin(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := e.client()
	for _, path := range []string{"/", "/apps", "/apps/" + e.appID + "/bots", "/apps/" + e.appID + "/console"} {
		p := b.get(path)
		if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, "/login?next=") {
			t.Errorf("GET %s: %d to %q, want 303 to /login?next=…", path, p.Status, p.Location)
		}
	}
	// A form posted without a session is refused, not redirected.
	if p := b.post("/apps/"+e.appID+"/users", url.Values{"uid": {"x"}, "name": {"X"}}, ""); p.Status != http.StatusForbidden {
		t.Errorf("POST without a session: %d, want 403", p.Status)
	}
	// The REST API keeps its own 404 under /v3.
	if p := b.get("/v3/nothing-here"); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "ERR_API_NOT_FOUND") {
		t.Errorf("GET /v3/nothing-here: %d %s", p.Status, p.Body)
	}
}

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := e.client()
	p := b.login("wrong-password!")
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "The username or password is not correct.") {
		t.Fatalf("wrong password: %d, body without the error", p.Status)
	}
	p = b.login(adminPassword)
	if p.Status != http.StatusSeeOther || p.Location != "/" {
		t.Fatalf("login: %d to %q", p.Status, p.Location)
	}
	var session *http.Cookie
	for _, c := range b.c.Jar.Cookies(mustURL(e.base)) {
		if c.Name == "parley_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	p = b.get("/apps/" + e.appID + "/bots")
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "No bots yet") {
		t.Fatalf("bots page after login: %d", p.Status)
	}
	p = b.post("/logout", url.Values{"csrf": {b.csrf}}, e.base)
	if p.Status != http.StatusSeeOther || p.Location != "/login" {
		t.Fatalf("logout: %d to %q", p.Status, p.Location)
	}
	// The old cookie no longer works, even replayed by hand.
	req, _ := http.NewRequest("GET", e.base+"/apps", nil)
	req.AddCookie(session)
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session still works after logout: %d", res.StatusCode)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := e.client()
	b.get("/login")
	form := url.Values{"csrf": {b.csrf}, "username": {"admin"}, "password": {adminPassword}}
	// Behind a TLS-terminating proxy on loopback: the cookie is Secure.
	req, _ := http.NewRequest("POST", e.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var set string
	for _, h := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "parley_session=") {
			set = h
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Secure", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
}

func TestCSRFRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := e.client()
	b.login(adminPassword)
	b.get("/apps/" + e.appID + "/users/new")
	path := "/apps/" + e.appID + "/users"
	cases := []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no token", url.Values{"uid": {"mallory"}, "name": {"M"}}, e.base},
		{"wrong token", url.Values{"csrf": {b.csrf + "x"}, "uid": {"mallory"}, "name": {"M"}}, e.base},
		{"other origin", url.Values{"csrf": {b.csrf}, "uid": {"mallory"}, "name": {"M"}}, "http://evil.example"},
	}
	for _, c := range cases {
		if p := b.post(path, c.form, c.origin); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "CSRF") {
			t.Errorf("%s: %d, want 403 with a CSRF message", c.name, p.Status)
		}
	}
	// The login form has its own token too.
	if p := e.client().post("/login", url.Values{"username": {"admin"}, "password": {adminPassword}}, e.base); p.Status != http.StatusForbidden {
		t.Errorf("login without a token: %d, want 403", p.Status)
	}
	// Nothing was created; with the token it works.
	if p := b.get(path + "/mallory"); p.Status != http.StatusNotFound {
		t.Fatalf("a refused form created the user: %d", p.Status)
	}
	if p := b.post(path, url.Values{"csrf": {b.csrf}, "uid": {"mallory"}, "name": {"M"}}, e.base); p.Status != http.StatusSeeOther {
		t.Fatalf("the same form with its token: %d", p.Status)
	}
}

func TestValidationErrorsNextToTheField(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := e.client()
	b.login(adminPassword)
	b.get("/apps/" + e.appID + "/bots/new")
	long := "https://bots.example.org/" + strings.Repeat("a", 260)
	cases := []struct {
		name, uid, url, field, want string
	}{
		{"unknown uid", "ghost", "https://bots.example.org/hook", `id="uid-err"`, `No user has the UID &#34;ghost&#34;`},
		{"http outside the allowed ranges", "ghost", "http://bots.example.org/hook", `id="url-err"`, "must use https"},
		{"too long", "ghost", long, `id="url-err"`, "may not be greater than 255 characters"},
		{"uid too long", strings.Repeat("u", 60), "https://bots.example.org/hook", `id="uid-err"`, "may not be greater than 50 characters"},
	}
	for _, c := range cases {
		p := b.post("/apps/"+e.appID+"/bots", url.Values{"csrf": {b.csrf}, "uid": {c.uid}, "webhookURL": {c.url},
			"groupChatSetting": {"none"}}, e.base)
		if p.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", c.name, p.Status)
			continue
		}
		i := strings.Index(p.Body, c.field)
		if i < 0 || !strings.Contains(p.Body[i:min(len(p.Body), i+400)], c.want) {
			t.Errorf("%s: %q is not shown in %s", c.name, c.want, c.field)
		}
		if !strings.Contains(p.Body, `aria-invalid="true"`) {
			t.Errorf("%s: no field is marked invalid", c.name)
		}
	}
	// The typed values are kept.
	p := b.post("/apps/"+e.appID+"/bots", url.Values{"csrf": {b.csrf}, "uid": {"ghost"}, "webhookURL": {"https://kept.example/h"}}, e.base)
	if !strings.Contains(p.Body, `value="https://kept.example/h"`) {
		t.Error("the form lost the typed URL")
	}
}

func TestCreateBotWithNewUserShowsSecretOnce(t *testing.T) {
	t.Parallel()
	e := start(t)
	b := e.client()
	b.login(adminPassword)
	b.get("/apps/" + e.appID + "/bots/new")
	p := b.post("/apps/"+e.appID+"/bots", url.Values{"csrf": {b.csrf}, "uid": {"helper"}, "createUser": {"on"}, "name": {"Helper"},
		"webhookURL": {"https://bots.example.org/hook"}, "groupChatSetting": {"mentionedMessages"}, "enabled": {"on"},
		"useBasicAuth": {"on"}, "username": {"bot"}, "password": {"pw-123"}}, e.base)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `id="signing-secret">whsec_`) {
		t.Fatalf("create: %d, no signing secret shown", p.Status)
	}
	bot := e.api("GET", "/v3/bots/helper", "")["data"].(map[string]any)
	if bot["groupChatSetting"] != "mentionedMessages" || bot["enabled"] != true || bot["useBasicAuth"] != true || bot["username"] != "bot" {
		t.Fatalf("stored bot: %v", bot)
	}
	user := e.api("GET", "/v3/users/helper", "")["data"].(map[string]any)
	if user["name"] != "Helper" {
		t.Fatalf("the user was not created with its name: %v", user)
	}
	if p := b.get("/apps/" + e.appID + "/bots/helper"); strings.Contains(p.Body, "whsec_") {
		t.Fatal("the signing secret is shown again")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
