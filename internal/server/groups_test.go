package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"parley/internal/chat"
	"parley/internal/store"
)

// memberResult returns data.<list>.<uid> of an add-members answer.
func memberResult(r resp, list, uid string) map[string]any {
	m, _ := dig(r.Data(), list+"."+uid).(map[string]any)
	return m
}

// uids returns the uid of each object of a list answer, in order.
func uids(r resp, key string) []string {
	var out []string
	for _, x := range r.List() {
		s, _ := x[key].(string)
		out = append(out, s)
	}
	return out
}

// storedMessage reads a message straight from the store, as the message
// history will show it.
func (e *env) storedMessage(appID, id string) (*chat.Message, error) {
	e.t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		e.t.Fatalf("message id %q: %v", id, err)
	}
	var m *chat.Message
	err = e.srv.DB.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		m, err = tx.Message(context.Background(), appID, n)
		return err
	})
	return m, err
}

// checkAction fails unless m (an action message as JSON) records action by
// the actor on the target in group guid.
func checkAction(t *testing.T, m map[string]any, action, by, on, guid string) {
	t.Helper()
	if str(m, "category") != "action" || str(m, "type") != "groupMember" || str(m, "data.action") != action {
		t.Fatalf("want a groupMember %q action message, got %v", action, m)
	}
	if str(m, "sender") != by || str(m, "data.entities.by.entity.uid") != by || str(m, "data.entities.by.entityType") != "user" {
		t.Fatalf("%s: want by %s: %v", action, by, m)
	}
	if str(m, "data.entities.on.entity.uid") != on || str(m, "data.entities.on.entityType") != "user" {
		t.Fatalf("%s: want on %s: %v", action, on, m)
	}
	if str(m, "receiver") != guid || str(m, "receiverType") != "group" || str(m, "conversationId") != "group_"+guid ||
		str(m, "data.entities.for.entity.guid") != guid || str(m, "data.entities.for.entityType") != "group" {
		t.Fatalf("%s: want for group %s: %v", action, guid, m)
	}
	if str(m, "id") == "" || dig(m, "sentAt") == nil {
		t.Fatalf("%s: no id or sentAt: %v", action, m)
	}
}

func TestGroupCreate(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "carol", "dave", "erin")

	r := e.must("POST", "/v3/groups", map[string]any{"guid": "Team-1", "name": "Team", "type": "PUBLIC", "description": "d",
		"icon": "https://example.org/i.png", "metadata": map[string]any{"k": "v"}, "tags": []string{"red"}}, as("alice"))
	g := r.Data()
	if str(g, "guid") != "team-1" || str(g, "type") != "public" || str(g, "owner") != "alice" || str(g, "conversationId") != "group_team-1" {
		t.Fatalf("create: %s", r.Raw)
	}
	if g["membersCount"] != 1.0 || g["hasJoined"] != true || str(g, "scope") != "admin" || g["joinedAt"] == nil || g["createdAt"] == nil {
		t.Fatalf("the creator is the first member, an admin: %s", r.Raw)
	}
	if str(g, "metadata.k") != "v" || str(g, "description") != "d" || str(g, "icon") != "https://example.org/i.png" {
		t.Fatalf("fields: %s", r.Raw)
	}
	e.fails(http.StatusConflict, "ERR_GUID_ALREADY_EXISTS", "POST", "/v3/groups", map[string]any{"guid": "TEAM-1", "name": "Again", "type": "public"}, nil)

	// A password group keeps only a hash, never shown.
	r = e.must("POST", "/v3/groups", map[string]any{"guid": "pw", "name": "Pw", "type": "Password", "password": "s3cret"}, nil)
	if str(r.Data(), "type") != "password" || strings.Contains(string(r.Raw), "s3cret") || strings.Contains(string(r.Raw), "assword\":") {
		t.Fatalf("password group: %s", r.Raw)
	}
	if r = e.must("GET", "/v3/groups/pw", nil, nil); strings.Contains(string(r.Raw), "pbkdf2") || strings.Contains(string(r.Raw), "s3cret") {
		t.Fatalf("the password leaks: %s", r.Raw)
	}
	e.fails(http.StatusBadRequest, "ERR_EMPTY_GROUP_PASS", "POST", "/v3/groups", map[string]any{"guid": "pw2", "name": "Pw", "type": "password"}, nil)

	// Created by the API key alone: no owner, no members.
	r = e.must("POST", "/v3/groups", map[string]any{"guid": "server", "name": "Server", "type": "private"}, nil)
	if r.Data()["membersCount"] != 0.0 || r.Data()["owner"] != nil || r.Data()["hasJoined"] != nil {
		t.Fatalf("server-created group: %s", r.Raw)
	}
	// The owner field names the owner.
	r = e.must("POST", "/v3/groups", map[string]any{"guid": "bobs", "name": "Bob's", "type": "public", "owner": "BOB"}, nil)
	if str(r.Data(), "owner") != "bob" || r.Data()["membersCount"] != 1.0 {
		t.Fatalf("owner field: %s", r.Raw)
	}
	if m := e.must("GET", "/v3/groups/bobs/members", nil, nil).List(); len(m) != 1 || m[0]["uid"] != "bob" || m[0]["scope"] != "admin" {
		t.Fatalf("the owner is an admin member: %v", m)
	}
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "POST", "/v3/groups", map[string]any{"guid": "x1", "name": "X", "type": "public", "owner": "ghost"}, nil)
	if r := e.must("POST", "/v3/groups", map[string]any{"guid": "x3", "name": "X", "type": "public", "owner": ""}, as("carol")); str(r.Data(), "owner") != "carol" {
		t.Fatalf("an empty owner field is absent: %s", r.Raw)
	}
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "POST", "/v3/groups", map[string]any{"guid": "x2", "name": "X", "type": "public"}, as("ghost"))

	// Validation, one field at a time.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "X", "type": "public"}, "guid"},
		{map[string]any{"guid": "bad guid!", "name": "X", "type": "public"}, "guid"},
		{map[string]any{"guid": strings.Repeat("g", 101), "name": "X", "type": "public"}, "guid"},
		{map[string]any{"guid": "v1", "type": "public"}, "name"},
		{map[string]any{"guid": "v1", "name": strings.Repeat("n", 101), "type": "public"}, "name"},
		{map[string]any{"guid": "v1", "name": "X"}, "type"},
		{map[string]any{"guid": "v1", "name": "X", "type": "secret"}, "type"},
		{map[string]any{"guid": "v1", "name": "X", "type": "public", "description": strings.Repeat("d", 256)}, "description"},
		{map[string]any{"guid": "v1", "name": "X", "type": "password", "password": strings.Repeat("p", 101)}, "password"},
		{map[string]any{"guid": "v1", "name": "X", "type": "public", "icon": "not a url"}, "icon"},
		{map[string]any{"guid": "v1", "name": "X", "type": "public", "metadata": []int{1}}, "metadata"},
		{map[string]any{"guid": "v1", "name": "X", "type": "public", "tags": []string{""}}, "tags"},
		{map[string]any{"guid": "v1", "name": "X", "type": "public", "owner": "bad uid!"}, "owner"},
		{map[string]any{"guid": "v1", "name": "X", "type": "public", "members": map[string]any{"participants": []string{""}}}, "participants"},
	} {
		r := e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/groups", c.body, nil)
		if dig(r.Body, "error.details."+c.field) == nil {
			t.Errorf("%v: no details for %s: %s", c.body, c.field, r.Raw)
		}
	}
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/v1", nil, nil)

	// Members named at creation are added (or banned) with per-uid results.
	r = e.must("POST", "/v3/groups", map[string]any{"guid": "crew", "name": "Crew", "type": "private", "members": map[string]any{
		"admins": []string{"carol"}, "participants": []string{"dave", "ghost", "carol"}, "usersToBan": []string{"erin"}}}, as("alice"))
	if r.Data()["membersCount"] != 3.0 || str(r.Data(), "scope") != "admin" {
		t.Fatalf("crew: %s", r.Raw)
	}
	if res := dig(r.Data(), "members.admins.carol"); res == nil {
		t.Fatalf("no result for carol: %s", r.Raw)
	}
	checkAction(t, dig(r.Data(), "members.admins.carol.data").(map[string]any), "added", "alice", "carol", "crew")
	if dig(r.Data(), "members.participants.dave.success") != true || dig(r.Data(), "members.participants.carol") != nil {
		t.Fatalf("dave added; carol only under admins (highest scope wins): %s", r.Raw)
	}
	if dig(r.Data(), "members.participants.ghost.success") != false || dig(r.Data(), "members.participants.ghost.error.code") != "ERR_UID_NOT_FOUND" {
		t.Fatalf("ghost: %s", r.Raw)
	}
	checkAction(t, dig(r.Data(), "members.usersToBan.erin.data").(map[string]any), "banned", "alice", "erin", "crew")
	if b := e.must("GET", "/v3/groups/crew/bannedusers", nil, nil); !slices.Equal(uids(b, "uid"), []string{"erin"}) {
		t.Fatalf("banned at creation: %s", b.Raw)
	}

	// More than 25 uids in one call is refused as a whole.
	many := make([]string, 26)
	for i := range many {
		many[i] = "u" + strconv.Itoa(i)
	}
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/groups", map[string]any{"guid": "big", "name": "Big", "type": "public",
		"members": map[string]any{"participants": many}}, nil)

	// The auth-only key cannot manage groups.
	e.fails(http.StatusForbidden, "AUTH_ERR_NO_ACCESS", "POST", "/v3/groups", map[string]any{"guid": "k", "name": "K", "type": "public"}, hdr{"apiKey": e.authKey})
	e.fails(http.StatusForbidden, "AUTH_ERR_NO_ACCESS", "GET", "/v3/groups", nil, hdr{"apiKey": e.authKey})
}

func TestGroupListGetUpdateDelete(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "carol")
	e.must("POST", "/v3/groups", map[string]any{"guid": "alpha", "name": "Alpha", "type": "public", "tags": []string{"red"}}, as("alice"))
	e.must("POST", "/v3/groups", map[string]any{"guid": "beta", "name": "Beta", "type": "password", "password": "pw"}, as("bob"))
	// Created in guid order, so that createdAt order is the same whether or
	// not the clock ticks in between (ties are broken by guid); "Omega"
	// makes the name order differ from the guid order.
	e.must("POST", "/v3/groups", map[string]any{"guid": "delta", "name": "Omega", "type": "private"}, as("bob"))
	e.must("POST", "/v3/groups", map[string]any{"guid": "gamma", "name": "Gamma", "type": "private", "tags": []string{"red", "blue"}}, as("alice"))

	// The API key sees every group, private ones included.
	r := e.must("GET", "/v3/groups", nil, nil)
	if got := uids(r, "guid"); !slices.Equal(got, []string{"alpha", "beta", "gamma", "delta"}) {
		t.Fatalf("default order is by name: %v", got)
	}
	if dig(r.Meta(), "pagination.total") != 4.0 || dig(r.Meta(), "pagination.per_page") != 100.0 {
		t.Fatalf("meta: %s", r.Raw)
	}
	if r.List()[0]["hasJoined"] != nil || r.List()[0]["membersCount"] != 1.0 {
		t.Fatalf("no per-viewer fields without onBehalfOf: %s", r.Raw)
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"searchKey=AL", []string{"alpha"}},
		{"searchKey=de&searchIn=guid", []string{"delta"}},
		{"searchKey=lpha", nil},
		{"searchKey=om", []string{"delta"}},
		{"searchKey=om&searchIn=guid", nil},
		{"type=private", []string{"gamma", "delta"}},
		{"types=public,password", []string{"alpha", "beta"}},
		{"type=PUBLIC&types=private", []string{"alpha", "gamma", "delta"}},
		{"tags=blue", []string{"gamma"}},
		{"withTags=true&tags=red", []string{"alpha", "gamma"}},
		{"sortBy=name&sortOrder=desc", []string{"delta", "gamma", "beta", "alpha"}},
		{"sortBy=guid", []string{"alpha", "beta", "delta", "gamma"}},
		{"sortBy=createdAt&sortOrder=desc", []string{"gamma", "delta", "beta", "alpha"}},
		{"perPage=3&page=2", []string{"delta"}},
	} {
		r := e.must("GET", "/v3/groups?"+c.query, nil, nil)
		if got := uids(r, "guid"); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}
	r = e.must("GET", "/v3/groups?perPage=3&page=2", nil, nil)
	if dig(r.Meta(), "pagination.total") != 4.0 || dig(r.Meta(), "pagination.count") != 1.0 ||
		dig(r.Meta(), "pagination.total_pages") != 2.0 || dig(r.Meta(), "pagination.current_page") != 2.0 {
		t.Fatalf("page 2: %s", r.Raw)
	}
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/groups?type=secret", nil, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/groups?sortBy=members", nil, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/groups?perPage=1001", nil, nil)

	// With onBehalfOf, private groups are listed to their members only.
	if got := uids(e.must("GET", "/v3/groups", nil, as("carol")), "guid"); !slices.Equal(got, []string{"alpha", "beta"}) {
		t.Fatalf("carol sees %v", got)
	}
	r = e.must("GET", "/v3/groups", nil, as("alice"))
	if got := uids(r, "guid"); !slices.Equal(got, []string{"alpha", "beta", "gamma"}) {
		t.Fatalf("alice sees %v", got)
	}
	if r.List()[0]["hasJoined"] != true || r.List()[0]["scope"] != "admin" || r.List()[1]["hasJoined"] != nil {
		t.Fatalf("per-viewer fields: %s", r.Raw)
	}
	if got := uids(e.must("GET", "/v3/groups?hasJoined=true", nil, as("alice")), "guid"); !slices.Equal(got, []string{"alpha", "gamma"}) {
		t.Fatalf("alice joined %v", got)
	}
	e.fails(http.StatusBadRequest, "ERR_ON_BEHALF_OF_REQUIRED", "GET", "/v3/groups?hasJoined=true", nil, nil)
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "GET", "/v3/groups", nil, as("ghost"))

	// Get: hidden private groups are not found.
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/gamma", nil, as("carol"))
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/gamma/members", nil, as("carol"))
	if r := e.must("GET", "/v3/groups/GAMMA", nil, as("alice")); r.Data()["hasJoined"] != true || str(r.Data(), "scope") != "admin" {
		t.Fatalf("get as member: %s", r.Raw)
	}
	if r := e.must("GET", "/v3/groups/beta", nil, as("carol")); r.Data()["hasJoined"] != nil || r.Data()["scope"] != nil {
		t.Fatalf("get as non-member: %s", r.Raw)
	}
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/nope", nil, nil)

	// Update by the API key.
	r = e.must("PUT", "/v3/groups/alpha", map[string]any{"name": "Alpha 2", "description": "about", "metadata": map[string]any{"a": 1},
		"tags": []string{"green"}, "icon": "https://example.org/a.png"}, nil)
	if str(r.Data(), "name") != "Alpha 2" || str(r.Data(), "description") != "about" || dig(r.Data(), "metadata.a") != 1.0 ||
		r.Data()["updatedAt"] == nil || r.Data()["membersCount"] != 1.0 {
		t.Fatalf("update: %s", r.Raw)
	}
	r = e.must("PUT", "/v3/groups/alpha", map[string]any{"unset": []string{"description", "metadata", "icon", "tags"}}, nil)
	if r.Data()["description"] != nil || r.Data()["metadata"] != nil || r.Data()["icon"] != nil || r.Data()["tags"] != nil || str(r.Data(), "name") != "Alpha 2" {
		t.Fatalf("unset: %s", r.Raw)
	}
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "PUT", "/v3/groups/alpha", map[string]any{"unset": []string{"name"}}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "PUT", "/v3/groups/alpha", map[string]any{"name": ""}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "PUT", "/v3/groups/alpha", map[string]any{"type": "closed"}, nil)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "PUT", "/v3/groups/nope", map[string]any{"name": "N"}, nil)
	// A password group needs a password; leaving the type keeps the old one.
	e.fails(http.StatusBadRequest, "ERR_EMPTY_GROUP_PASS", "PUT", "/v3/groups/alpha", map[string]any{"type": "password"}, nil)
	if r := e.must("PUT", "/v3/groups/alpha", map[string]any{"type": "password", "password": "open sesame"}, nil); str(r.Data(), "type") != "password" {
		t.Fatalf("to password: %s", r.Raw)
	}
	e.must("PUT", "/v3/groups/alpha", map[string]any{"name": "Alpha 3"}, nil)
	e.fails(http.StatusForbidden, "ERR_WRONG_GROUP_PASS", "POST", "/v3/groups/alpha/members", map[string]any{"password": "pw"}, as("carol"))
	e.must("POST", "/v3/groups/alpha/members", map[string]any{"password": "open sesame"}, as("carol"))

	// With onBehalfOf only admins may update.
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_ADMIN_SCOPE", "PUT", "/v3/groups/alpha", map[string]any{"name": "Mine"}, as("carol"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NOT_JOINED", "PUT", "/v3/groups/beta", map[string]any{"name": "Mine"}, as("carol"))
	if r := e.must("PUT", "/v3/groups/alpha", map[string]any{"name": "Alice's"}, as("alice")); str(r.Data(), "name") != "Alice's" || str(r.Data(), "scope") != "admin" {
		t.Fatalf("update as admin: %s", r.Raw)
	}
	// The owner field is ignored from an admin that is not the owner...
	e.must("POST", "/v3/groups/alpha/members", map[string]any{"admins": []string{"bob"}}, nil)
	if r := e.must("PUT", "/v3/groups/alpha", map[string]any{"owner": "bob"}, as("bob")); str(r.Data(), "owner") != "alice" {
		t.Fatalf("owner from a non-owner is ignored: %s", r.Raw)
	}
	// ...and transfers the ownership from the owner or the API key; a new
	// owner who is not a member becomes an admin member.
	r = e.must("PUT", "/v3/groups/alpha", map[string]any{"owner": "carol"}, nil)
	if str(r.Data(), "owner") != "carol" || r.Data()["membersCount"] != 3.0 {
		t.Fatalf("transfer: %s", r.Raw)
	}
	if m := e.must("GET", "/v3/groups/alpha/members?scopes=admin", nil, nil); !slices.Equal(uids(m, "uid"), []string{"alice", "bob", "carol"}) {
		t.Fatalf("admins after the transfer: %s", m.Raw)
	}
	if r := e.must("PUT", "/v3/groups/alpha", map[string]any{"owner": "alice"}, as("carol")); str(r.Data(), "owner") != "alice" {
		t.Fatalf("the owner transfers: %s", r.Raw)
	}
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "PUT", "/v3/groups/alpha", map[string]any{"owner": "ghost"}, nil)

	// Delete: admins only with onBehalfOf; it takes the members, bans and
	// history with it.
	e.must("POST", "/v3/groups/gamma/members", map[string]any{"participants": []string{"carol"}, "usersToBan": []string{"bob"}}, nil)
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_ADMIN_SCOPE", "DELETE", "/v3/groups/gamma", nil, as("carol"))
	kick := e.must("DELETE", "/v3/groups/gamma/members/carol", nil, nil)
	id := str(kick.Data(), "actionMessage.id")
	if _, err := e.storedMessage(e.appID, id); err != nil {
		t.Fatalf("the kick is in the history: %v", err)
	}
	r = e.must("DELETE", "/v3/groups/gamma", nil, as("alice"))
	if r.Data()["success"] != true || !strings.Contains(str(r.Data(), "message"), "gamma") {
		t.Fatalf("delete: %s", r.Raw)
	}
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/gamma", nil, nil)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/gamma/members", nil, nil)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "DELETE", "/v3/groups/gamma", nil, nil)
	if _, err := e.storedMessage(e.appID, id); chat.KindOf(err) != chat.KindNotFound {
		t.Fatalf("the group's messages go with it: %v", err)
	}
	// The guid is free again, with nothing of the old group.
	r = e.must("POST", "/v3/groups", map[string]any{"guid": "gamma", "name": "New", "type": "public"}, nil)
	if r.Data()["membersCount"] != 0.0 {
		t.Fatalf("recreated: %s", r.Raw)
	}
	if b := e.must("GET", "/v3/groups/gamma/bannedusers", nil, nil); len(b.List()) != 0 {
		t.Fatalf("old bans survive: %s", b.Raw)
	}
}
