package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEveryFlow walks every page and form of the dashboard over HTTP and
// checks what a user would see after each action (and that every template
// renders).
func TestEveryFlow(t *testing.T) {
	t.Parallel()
	e := start(t)
	rec := newRecorder(t)
	b := e.client()
	b.login(adminPassword)
	ap := "/apps/" + e.appID
	must := func(p page, status int, wants ...string) page {
		t.Helper()
		if p.Status != status {
			t.Fatalf("status %d, want %d: %.300s", p.Status, status, p.Body)
		}
		for _, w := range wants {
			if !strings.Contains(p.Body, w) {
				t.Fatalf("the page does not say %q: %.2000s", w, p.Body)
			}
		}
		return p
	}
	post := func(path string, kv ...string) page {
		t.Helper()
		f := url.Values{"csrf": {b.csrf}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return b.post(path, f, e.base)
	}
	// mustSoon is must of a GET of path for state the server reaches
	// asynchronously (an attempt is recorded after the bot has answered):
	// it asks again until the page says wants, for up to 10 s.
	mustSoon := func(path string, wants ...string) page {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			p := b.get(path)
			missing := p.Status != http.StatusOK
			for _, w := range wants {
				missing = missing || !strings.Contains(p.Body, w)
			}
			if !missing || time.Now().After(deadline) {
				return must(p, http.StatusOK, wants...)
			}
		}
	}
	follow := func(p page, wants ...string) page {
		t.Helper()
		if p.Status != http.StatusSeeOther {
			t.Fatalf("status %d, want a redirect: %.500s", p.Status, p.Body)
		}
		return must(b.get(p.Location), http.StatusOK, wants...)
	}

	// Home goes to the first app's bots; empty states say what to do.
	if p := b.get("/"); p.Location != ap+"/bots" {
		t.Fatalf("home goes to %q", p.Location)
	}
	must(b.get(ap+"/bots"), 200, "No bots yet", "Add your first bot")
	must(b.get(ap+"/users"), 200, "No users yet")
	must(b.get(ap+"/groups"), 200, "No groups yet")
	must(b.get(ap+"/console"), 200, "Try a bot without writing a client")

	// Apps: create one; its keys are shown once.
	must(b.get("/apps"), 200, "My first app")
	p := must(post("/apps", "name", "Second app", "region", "eu"), 200, "Second app", "copy them now")
	if !regexp.MustCompile(`[0-9a-f]{40}`).MatchString(p.Body) {
		t.Fatal("the new app's keys are not shown")
	}
	must(post("/apps", "name", ""), 422, `id="name-err"`)

	// API keys: create (shown once), revoke.
	must(b.get(ap+"/keys"), 200, "REST API Key", "Auth Key")
	p = must(post(ap+"/keys", "name", "CI", "scope", "fullAccess"), 200, `id="new-key"`, "copy it now")
	prefix := regexp.MustCompile(`id="new-key">([0-9a-f]{8})`).FindStringSubmatch(p.Body)
	if prefix == nil {
		t.Fatal("no key value shown")
	}
	follow(post(ap+"/keys/"+prefix[1]+"/revoke"), "The key is revoked")
	if strings.Contains(b.get(ap+"/keys").Body, prefix[1]) {
		t.Fatal("the revoked key is still listed")
	}

	// Users: create, list, search, page, edit, deactivate, reactivate, token.
	follow(post(ap+"/users", "uid", "alice", "name", "Alice", "tags", "vip, beta"), "Saved.", "vip, beta")
	must(post(ap+"/users", "uid", "alice", "name", "Again"), 422, `id="uid-err"`)
	for i := range 30 {
		e.api("POST", "/v3/users", `{"uid":"user`+string(rune('a'+i%26))+string(rune('a'+i/26))+`","name":"User"}`)
	}
	must(b.get(ap+"/users"), 200, "31 users", "Page 1 of 2")
	must(b.get(ap+"/users?page=2"), 200, "Page 2 of 2")
	must(b.get(ap+"/users?q=ali"), 200, "1 user<", "alice")
	must(b.get(ap+"/users?q=zzz"), 200, "No user matches")
	follow(post(ap+"/users/alice", "name", "Alice Doe", "statusMessage", "Busy"), "Saved.", "Alice Doe", `value="Busy"`)
	// (an invalid link is refused next to the field)
	must(post(ap+"/users/alice", "name", "Alice Doe", "link", "not a url"), 422, `id="link-err"`)
	follow(post(ap+"/users/alice/deactivate"), "deactivated")
	must(b.get(ap+"/users"), 200)
	if strings.Contains(b.get(ap+"/users").Body, ">alice<") {
		t.Fatal("a deactivated user is listed without 'include deactivated'")
	}
	must(b.get(ap+"/users?inactive=1&q=alice"), 200, "deactivated")
	follow(post(ap+"/users/alice/reactivate"), "active again")
	must(post(ap+"/users/alice/token"), 200, `id="auth-token"`)

	// Groups: create, add members by scope, change scope, kick, ban.
	follow(post(ap+"/groups", "guid", "team", "name", "Team", "type", "public"), "Saved.", "Add a member")
	must(post(ap+"/groups", "guid", "team", "name", "Team", "type", "public"), 422, `id="guid-err"`)
	follow(post(ap+"/groups/team/members", "uid", "alice", "scope", "admin"), "The member list is updated.", "alice")
	follow(post(ap+"/groups/team/members", "uid", "useraa", "scope", "participant"))
	follow(post(ap+"/groups/team/members", "uid", "userba", "scope", "moderator"))
	must(post(ap+"/groups/team/members", "uid", "ghost", "scope", "participant"), 422, `id="uid-err"`)
	follow(post(ap+"/groups/team/members/useraa/scope", "scope", "moderator"))
	members := e.api("GET", "/v3/groups/team/members", "")["data"].([]any)
	scopes := map[string]string{}
	for _, m := range members {
		mm := m.(map[string]any)
		scopes[mm["uid"].(string)] = mm["scope"].(string)
	}
	if scopes["alice"] != "admin" || scopes["useraa"] != "moderator" || scopes["userba"] != "moderator" {
		t.Fatalf("scopes %v", scopes)
	}
	follow(post(ap + "/groups/team/members/useraa/kick"))
	p = follow(post(ap+"/groups/team/members/userba/ban"), "Banned")
	if strings.Contains(p.Body, "/members/useraa/") {
		t.Fatal("the kicked member is still listed")
	}
	must(b.get(ap+"/groups"), 200, "Team")

	// Bots: add, edit, disable, enable, rotate, test, delete.
	must(b.get(ap+"/bots/new"), 200, "Group setting", "All messages", "Slashed messages", "Mentioned messages", "None",
		`<option value="alice">`)
	must(post(ap+"/bots", "uid", "helper", "createUser", "on", "webhookURL", rec.srv.URL+"/hook", "groupChatSetting", "allMessages",
		"enabled", "on"), 200, "whsec_")
	must(b.get(ap+"/bots"), 200, "helper", "allMessages", "healthy")
	must(b.get(ap+"/bots/helper/edit"), 200, `value="`+rec.srv.URL+`/hook"`)
	must(post(ap+"/bots/helper", "webhookURL", "ftp://x", "groupChatSetting", "none"), 422, `id="url-err"`)
	must(post(ap+"/bots/helper", "webhookURL", rec.srv.URL+"/hook", "groupChatSetting", "none", "enabled", "on",
		"useBasicAuth", "on", "username", "a:b"), 422, `id="username-err"`)
	follow(post(ap+"/bots/helper", "webhookURL", rec.srv.URL+"/v2", "groupChatSetting", "slashedMessages", "enabled", "on"), "Saved.", "/v2", "Slashed messages")
	follow(post(ap+"/bots/helper/disable"), "The bot is disabled")
	follow(post(ap+"/bots/helper/enable"), "The bot is enabled")
	p = must(post(ap+"/bots/helper/secret"), 200, "whsec_", "A new signing secret is active")
	follow(post(ap+"/bots/helper/test"), "A signed test event is queued")
	if got := rec.next(t); got.Body["trigger"] != "test" {
		t.Fatalf("the test event: %v", got.Body)
	}

	// The console opens a conversation and the delivery endpoint answers.
	p = must(b.get(ap+"/console?as=alice&with=user:helper"), 200, `id="composer"`, `data-token="`)
	req, _ := http.NewRequest("POST", e.base+"/v3/messages", strings.NewReader(`{"receiver":"helper","receiverType":"user","data":{"text":"hello"}}`))
	req.Header.Set("appId", e.appID)
	req.Header.Set("apiKey", e.key)
	req.Header.Set("onBehalfOf", "alice")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	json.NewDecoder(res.Body).Decode(&sent) //nolint:errcheck // checked below
	res.Body.Close()
	if sent.Data.ID == "" {
		t.Fatal("no message id")
	}
	rec.next(t)
	p = must(b.get(ap+"/console/deliveries?message="+sent.Data.ID), 200, `"bot":"helper"`)
	must(b.get(ap+"/console?as=alice&with=group:team"), 200, `id="composer"`)
	must(b.get(ap+"/console?as=useraa&with=group:team"), 200, "not a member")

	// The log and a delivery's page; retry one.
	p = must(b.get(ap+"/bots/helper"), 200, "Delivery log", "succeeded")
	id := regexp.MustCompile(`data-delivery="(\d+)"`).FindStringSubmatch(p.Body)
	mustSoon(ap+"/bots/helper/deliveries/"+id[1], "Attempt 1", "Request headers", "Webhook-Id")
	follow(post(ap+"/bots/helper/deliveries/"+id[1]+"/retry", "back", "delivery"), "queued again")
	rec.next(t)
	must(b.get(ap+"/bots/helper?state=failed"), 200, "Nothing delivered yet")
	follow(post(ap+"/bots/helper/replay", "since", "2020-01-01T00:00"), "0 failed deliveries are queued again.")
	must(post(ap+"/bots/helper/replay", "since", "yesterday"), 400, "YYYY-MM-DD")

	// Delete; unknown pages answer 404 pages.
	follow(post(ap+"/bots/helper/delete"), "Deleted.", "No bots yet")
	must(b.get(ap+"/bots/helper"), 404, "Not found")
	must(b.get("/apps/nope/bots"), 404, "does not exist")
	must(b.get("/nothing"), 404, "There is no page")
}
