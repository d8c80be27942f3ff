package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// nextAction reads frames until a group_action and returns its message.
func (w *ws) nextAction() map[string]any {
	w.t.Helper()
	return w.nextOf("group_action").Data
}

// membersCount reads a group's membersCount and checks it against the
// member list's total.
func (e *env) membersCount(guid string) float64 {
	e.t.Helper()
	n, _ := e.must("GET", "/v3/groups/"+guid, nil, nil).Data()["membersCount"].(float64)
	total := dig(e.must("GET", "/v3/groups/"+guid+"/members", nil, nil).Meta(), "pagination.total")
	if total != n {
		e.t.Fatalf("group %s: membersCount %v but the member list has %v", guid, n, total)
	}
	return n
}

func TestGroupMembers(t *testing.T) {
	t.Parallel()
	e := start(t)
	tokens := e.users("alice", "bob", "carol", "dave", "erin")
	e.must("POST", "/v3/groups", map[string]any{"guid": "team", "name": "Team", "type": "public"}, as("alice"))
	alice, bob, dave := e.dial(tokens["alice"]), e.dial(tokens["bob"]), e.dial(tokens["dave"])

	// Add members as the server: per-uid results with the action messages.
	r := e.must("POST", "/v3/groups/team/members", map[string]any{"moderators": []string{"Bob"},
		"participants": []string{"carol", "dave", "ghost", "alice", "bad uid!"}}, nil)
	bobAdded := memberResult(r, "moderators", "bob")
	if bobAdded["success"] != true {
		t.Fatalf("bob: %s", r.Raw)
	}
	checkAction(t, bobAdded["data"].(map[string]any), "added", "app_system", "bob", "team")
	if str(bobAdded, "data.data.entities.by.entity.name") != "System" || dig(bobAdded, "data.data.entities.for.entity.membersCount") != 2.0 {
		t.Fatalf("system actor and group snapshot: %v", bobAdded)
	}
	if dig(memberResult(r, "participants", "dave"), "data.data.entities.for.entity.membersCount") != 4.0 {
		t.Fatalf("each action snapshots the count after it: %s", r.Raw)
	}
	for uid, code := range map[string]string{"ghost": "ERR_UID_NOT_FOUND", "alice": "ERR_ALREADY_JOINED", "bad uid!": "ERR_UID_NOT_FOUND"} {
		if res := memberResult(r, "participants", uid); res["success"] != false || str(res, "error.code") != code {
			t.Errorf("%s: want %s: %v", uid, code, res)
		}
	}
	if n := e.membersCount("team"); n != 4 {
		t.Fatalf("membersCount %v, want 4", n)
	}

	// Every member is told in real time, in order, and so is the added user.
	for _, on := range []string{"bob", "carol", "dave"} {
		checkAction(t, alice.nextAction(), "added", "app_system", on, "team")
	}
	for _, on := range []string{"bob", "carol", "dave"} {
		checkAction(t, bob.nextAction(), "added", "app_system", on, "team")
	}
	checkAction(t, dave.nextAction(), "added", "app_system", "dave", "team")

	// The actions are in the group's history, as stored.
	m, err := e.storedMessage(e.appID, str(bobAdded, "data.id"))
	if err != nil || m.Category != "action" || m.Data.Action != "added" || m.ConversationID != "group_team" || m.Sender != "app_system" {
		t.Fatalf("stored action: %+v, %v", m, err)
	}

	// List members: scope and joinedAt, filters, pages.
	r = e.must("GET", "/v3/groups/team/members", nil, nil)
	if got := uids(r, "uid"); !slices.Equal(got, []string{"alice", "bob", "carol", "dave"}) {
		t.Fatalf("members %v", got)
	}
	if r.List()[1]["scope"] != "moderator" || r.List()[1]["joinedAt"] == nil || r.List()[1]["name"] != "Bob" {
		t.Fatalf("member fields: %s", r.Raw)
	}
	if got := uids(e.must("GET", "/v3/groups/team/members?scopes=moderator,admin", nil, nil), "uid"); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("scopes filter: %v", got)
	}
	if got := uids(e.must("GET", "/v3/groups/team/members?searchKey=car", nil, nil), "uid"); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("search: %v", got)
	}
	r = e.must("GET", "/v3/groups/team/members?perPage=3&page=2", nil, nil)
	if !slices.Equal(uids(r, "uid"), []string{"dave"}) || dig(r.Meta(), "pagination.total_pages") != 2.0 {
		t.Fatalf("page 2: %s", r.Raw)
	}
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/groups/team/members?scopes=owner", nil, nil)
	if r := e.must("GET", "/v3/groups/team/members?searchKey=bob", nil, as("alice")); str(r.List()[0], "conversationId") != "alice_user_bob" {
		t.Fatalf("per-viewer member fields: %s", r.Raw)
	}

	// Scope changes.
	r = e.must("PUT", "/v3/groups/team/members/carol", map[string]any{"scope": "Moderator"}, nil)
	if str(r.Data(), "scope") != "moderator" || str(r.Data(), "uid") != "carol" || str(r.Data(), "guid") != "team" || r.Data()["joinedAt"] == nil {
		t.Fatalf("scope change: %s", r.Raw)
	}
	sc := r.Data()["actionMessage"].(map[string]any)
	checkAction(t, sc, "scopeChanged", "app_system", "carol", "team")
	if str(sc, "data.oldScope") != "participant" || str(sc, "data.newScope") != "moderator" {
		t.Fatalf("scopes of the action: %v", sc)
	}
	for _, w := range []*ws{alice, dave} {
		if f := w.nextAction(); str(f, "data.action") != "scopeChanged" || str(f, "data.newScope") != "moderator" {
			t.Fatalf("scope change pushed: %v", f)
		}
	}
	e.fails(http.StatusConflict, "ERR_SAME_SCOPE", "PUT", "/v3/groups/team/members/carol", map[string]any{"scope": "moderator"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "PUT", "/v3/groups/team/members/carol", map[string]any{"scope": "owner"}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "PUT", "/v3/groups/team/members/carol", map[string]any{}, nil)
	e.fails(http.StatusForbidden, "ERR_NOT_A_MEMBER", "PUT", "/v3/groups/team/members/erin", map[string]any{"scope": "admin"}, nil)
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "PUT", "/v3/groups/team/members/ghost", map[string]any{"scope": "admin"}, nil)

	// Kick: the kicked user hears of it too, and is no longer a member.
	r = e.must("DELETE", "/v3/groups/team/members/dave", nil, nil)
	if r.Data()["success"] != true || !strings.Contains(str(r.Data(), "message"), "kicked") {
		t.Fatalf("kick: %s", r.Raw)
	}
	checkAction(t, r.Data()["actionMessage"].(map[string]any), "kicked", "app_system", "dave", "team")
	checkAction(t, dave.nextAction(), "kicked", "app_system", "dave", "team")
	checkAction(t, alice.nextAction(), "kicked", "app_system", "dave", "team")
	if n := e.membersCount("team"); n != 3 {
		t.Fatalf("membersCount %v after kick, want 3", n)
	}
	e.fails(http.StatusForbidden, "ERR_NOT_A_MEMBER", "DELETE", "/v3/groups/team/members/dave", nil, nil)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "DELETE", "/v3/groups/nope/members/dave", nil, nil)

	// Ban a non-member, then a member.
	r = e.must("POST", "/v3/groups/team/bannedusers/erin", nil, nil)
	if r.Data()["success"] != true {
		t.Fatalf("ban: %s", r.Raw)
	}
	checkAction(t, r.Data()["actionMessage"].(map[string]any), "banned", "app_system", "erin", "team")
	e.fails(http.StatusConflict, "ERR_ALREADY_BANNED", "POST", "/v3/groups/team/bannedusers/erin", nil, nil)
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "POST", "/v3/groups/team/bannedusers/ghost", nil, nil)
	r = e.must("POST", "/v3/groups/team/members", map[string]any{"participants": []string{"erin"}}, nil)
	if res := memberResult(r, "participants", "erin"); str(res, "error.code") != "ERR_BANNED_GROUPMEMBER" {
		t.Fatalf("a banned user is not added: %s", r.Raw)
	}
	e.must("POST", "/v3/groups/team/bannedusers/carol", nil, nil)
	checkAction(t, alice.nextAction(), "banned", "app_system", "erin", "team")
	checkAction(t, alice.nextAction(), "banned", "app_system", "carol", "team")
	if n := e.membersCount("team"); n != 2 {
		t.Fatalf("membersCount %v after banning a member, want 2", n)
	}
	r = e.must("GET", "/v3/groups/team/bannedusers", nil, nil)
	if got := uids(r, "uid"); len(got) != 2 || !slices.Contains(got, "carol") || !slices.Contains(got, "erin") {
		t.Fatalf("banned list: %s", r.Raw)
	}
	if r.List()[0]["bannedAt"] == nil || dig(r.Meta(), "pagination.total") != 2.0 {
		t.Fatalf("banned list fields: %s", r.Raw)
	}
	if r := e.must("GET", "/v3/groups/team/bannedusers?perPage=1&page=2", nil, nil); len(r.List()) != 1 || dig(r.Meta(), "pagination.total_pages") != 2.0 {
		t.Fatalf("banned page 2: %s", r.Raw)
	}

	// Unban: the user may be added again, but is not a member by itself.
	r = e.must("DELETE", "/v3/groups/team/bannedusers/carol", nil, nil)
	checkAction(t, r.Data()["actionMessage"].(map[string]any), "unbanned", "app_system", "carol", "team")
	e.fails(http.StatusNotFound, "ERR_NOT_A_BANNED_USER", "DELETE", "/v3/groups/team/bannedusers/carol", nil, nil)
	if got := uids(e.must("GET", "/v3/groups/team/bannedusers", nil, nil), "uid"); !slices.Equal(got, []string{"erin"}) {
		t.Fatalf("after unban: %v", got)
	}
	if n := e.membersCount("team"); n != 2 {
		t.Fatalf("membersCount %v after unban, want 2", n)
	}
	e.must("POST", "/v3/groups/team/members", map[string]any{"participants": []string{"carol"}}, nil)
	if n := e.membersCount("team"); n != 3 {
		t.Fatalf("membersCount %v after re-adding, want 3", n)
	}
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/groups/team/members", map[string]any{}, nil)
}

func TestGroupJoinAndLeave(t *testing.T) {
	t.Parallel()
	e := start(t)
	tokens := e.users("alice", "bob", "carol")
	e.must("POST", "/v3/groups", map[string]any{"guid": "pub", "name": "Pub", "type": "public"}, as("alice"))
	e.must("POST", "/v3/groups", map[string]any{"guid": "pw", "name": "Pw", "type": "password", "password": "s3cret"}, as("alice"))
	e.must("POST", "/v3/groups", map[string]any{"guid": "priv", "name": "Priv", "type": "private"}, as("alice"))
	alice := e.dial(tokens["alice"])

	// Join a public group: add members on behalf of oneself, no lists needed.
	r := e.must("POST", "/v3/groups/pub/members", nil, as("bob"))
	joined := memberResult(r, "participants", "bob")
	if joined["success"] != true {
		t.Fatalf("join: %s", r.Raw)
	}
	checkAction(t, joined["data"].(map[string]any), "joined", "bob", "bob", "pub")
	checkAction(t, alice.nextAction(), "joined", "bob", "bob", "pub")
	if r := e.must("GET", "/v3/groups/pub", nil, as("bob")); r.Data()["hasJoined"] != true || str(r.Data(), "scope") != "participant" || r.Data()["membersCount"] != 2.0 {
		t.Fatalf("after join: %s", r.Raw)
	}
	e.fails(http.StatusConflict, "ERR_ALREADY_JOINED", "POST", "/v3/groups/pub/members", map[string]any{"participants": []string{"bob"}}, as("bob"))

	// A password group needs the password.
	e.fails(http.StatusBadRequest, "ERR_EMPTY_GROUP_PASS", "POST", "/v3/groups/pw/members", nil, as("bob"))
	e.fails(http.StatusForbidden, "ERR_WRONG_GROUP_PASS", "POST", "/v3/groups/pw/members", map[string]any{"password": "S3CRET"}, as("bob"))
	if n := e.membersCount("pw"); n != 1 {
		t.Fatalf("a refused join changed the count: %v", n)
	}
	r = e.must("POST", "/v3/groups/pw/members", map[string]any{"participants": []string{"bob"}, "password": "s3cret"}, as("bob"))
	checkAction(t, memberResult(r, "participants", "bob")["data"].(map[string]any), "joined", "bob", "bob", "pw")
	if n := e.membersCount("pw"); n != 2 {
		t.Fatalf("membersCount %v after a password join, want 2", n)
	}

	// A private group cannot be joined; a banned user cannot join.
	e.fails(http.StatusForbidden, "ERR_GROUP_JOIN_NOT_ALLOWED", "POST", "/v3/groups/priv/members", nil, as("bob"))
	e.must("POST", "/v3/groups/pub/bannedusers/carol", nil, nil)
	e.fails(http.StatusForbidden, "ERR_BANNED_GROUPMEMBER", "POST", "/v3/groups/pub/members", nil, as("carol"))
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "POST", "/v3/groups/nope/members", nil, as("carol"))
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "POST", "/v3/groups/pub/members", nil, as("ghost"))

	// Leave: delete oneself on one's own behalf.
	checkAction(t, alice.nextAction(), "joined", "bob", "bob", "pw")
	checkAction(t, alice.nextAction(), "banned", "app_system", "carol", "pub")
	r = e.must("DELETE", "/v3/groups/pub/members/bob", nil, as("bob"))
	if !strings.Contains(str(r.Data(), "message"), "left") {
		t.Fatalf("leave: %s", r.Raw)
	}
	checkAction(t, r.Data()["actionMessage"].(map[string]any), "left", "bob", "bob", "pub")
	checkAction(t, alice.nextAction(), "left", "bob", "bob", "pub")
	if n := e.membersCount("pub"); n != 1 {
		t.Fatalf("membersCount %v after leave, want 1", n)
	}
	e.fails(http.StatusForbidden, "ERR_GROUP_NOT_JOINED", "DELETE", "/v3/groups/pub/members/bob", nil, as("bob"))

	// The owner cannot leave until it hands the group over.
	e.fails(http.StatusForbidden, "ERR_GROUP_OWNER_CANNOT_LEAVE", "DELETE", "/v3/groups/pw/members/alice", nil, as("alice"))
	e.must("PUT", "/v3/groups/pw", map[string]any{"owner": "bob"}, as("alice"))
	if f := alice.nextAction(); str(f, "data.action") != "scopeChanged" || str(f, "data.entities.on.entity.uid") != "bob" || str(f, "data.newScope") != "admin" {
		t.Fatalf("the new owner is made an admin: %v", f)
	}
	e.must("DELETE", "/v3/groups/pw/members/alice", nil, as("alice"))
	if r := e.must("GET", "/v3/groups/pw", nil, nil); str(r.Data(), "owner") != "bob" || r.Data()["membersCount"] != 1.0 {
		t.Fatalf("after the owner left: %s", r.Raw)
	}
}

func TestGroupPermissions(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("owner", "ann", "amy", "mo", "max", "pat", "pam", "out", "new1", "new2")
	e.must("POST", "/v3/groups", map[string]any{"guid": "g", "name": "G", "type": "public", "members": map[string]any{
		"admins": []string{"ann", "amy"}, "moderators": []string{"mo", "max"}, "participants": []string{"pat", "pam"}}}, as("owner"))

	// Managing members needs admin or moderator scope, and membership.
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_MODERATOR_SCOPE", "POST", "/v3/groups/g/members", map[string]any{"participants": []string{"new1"}}, as("pat"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NOT_JOINED", "POST", "/v3/groups/g/members", map[string]any{"participants": []string{"new1"}}, as("out"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_MODERATOR_SCOPE", "DELETE", "/v3/groups/g/members/pam", nil, as("pat"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_MODERATOR_SCOPE", "POST", "/v3/groups/g/bannedusers/pam", nil, as("pat"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_MODERATOR_SCOPE", "PUT", "/v3/groups/g/members/pam", map[string]any{"scope": "moderator"}, as("pat"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_MODERATOR_SCOPE", "GET", "/v3/groups/g/bannedusers", nil, as("pat"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NOT_JOINED", "GET", "/v3/groups/g/bannedusers", nil, as("out"))

	// A moderator grants at most its own scope; its actions are its own.
	r := e.must("POST", "/v3/groups/g/members", map[string]any{"admins": []string{"new1"}, "participants": []string{"new2"}}, as("mo"))
	if str(memberResult(r, "admins", "new1"), "error.code") != "ERR_GROUP_NO_SCOPE_CLEARANCE" {
		t.Fatalf("a moderator adds an admin: %s", r.Raw)
	}
	checkAction(t, memberResult(r, "participants", "new2")["data"].(map[string]any), "added", "mo", "new2", "g")

	// A moderator acts on participants only.
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_SCOPE_CLEARANCE", "DELETE", "/v3/groups/g/members/ann", nil, as("mo"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_SCOPE_CLEARANCE", "DELETE", "/v3/groups/g/members/max", nil, as("mo"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_SCOPE_CLEARANCE", "PUT", "/v3/groups/g/members/max", map[string]any{"scope": "participant"}, as("mo"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_SCOPE_CLEARANCE", "PUT", "/v3/groups/g/members/pam", map[string]any{"scope": "admin"}, as("mo"))
	r = e.must("PUT", "/v3/groups/g/members/pam", map[string]any{"scope": "moderator"}, as("mo"))
	checkAction(t, r.Data()["actionMessage"].(map[string]any), "scopeChanged", "mo", "pam", "g")
	checkAction(t, e.must("DELETE", "/v3/groups/g/members/pat", nil, as("mo")).Data()["actionMessage"].(map[string]any), "kicked", "mo", "pat", "g")

	// Nobody bans or re-scopes itself.
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_SELF_ACTION", "POST", "/v3/groups/g/bannedusers/mo", nil, as("mo"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_SELF_ACTION", "PUT", "/v3/groups/g/members/ann", map[string]any{"scope": "participant"}, as("ann"))

	// Nobody acts on the owner, not even the API key.
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_CLEARANCE", "DELETE", "/v3/groups/g/members/owner", nil, as("ann"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_CLEARANCE", "DELETE", "/v3/groups/g/members/owner", nil, nil)
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_CLEARANCE", "POST", "/v3/groups/g/bannedusers/owner", nil, nil)
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_CLEARANCE", "PUT", "/v3/groups/g/members/owner", map[string]any{"scope": "participant"}, nil)

	// An admin acts on moderators but not on other admins; the owner does.
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_SCOPE_CLEARANCE", "PUT", "/v3/groups/g/members/amy", map[string]any{"scope": "participant"}, as("ann"))
	e.must("PUT", "/v3/groups/g/members/max", map[string]any{"scope": "admin"}, as("ann"))
	r = e.must("PUT", "/v3/groups/g/members/amy", map[string]any{"scope": "participant"}, as("owner"))
	if str(r.Data(), "actionMessage.data.oldScope") != "admin" || str(r.Data(), "actionMessage.sender") != "owner" {
		t.Fatalf("the owner demotes an admin: %s", r.Raw)
	}
	checkAction(t, e.must("POST", "/v3/groups/g/bannedusers/amy", nil, as("ann")).Data()["actionMessage"].(map[string]any), "banned", "ann", "amy", "g")
	checkAction(t, e.must("DELETE", "/v3/groups/g/bannedusers/amy", nil, as("mo")).Data()["actionMessage"].(map[string]any), "unbanned", "mo", "amy", "g")
	if r := e.must("GET", "/v3/groups/g/bannedusers", nil, as("mo")); len(r.List()) != 0 {
		t.Fatalf("bans: %s", r.Raw)
	}

	// Group settings are the admins'.
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_ADMIN_SCOPE", "PUT", "/v3/groups/g", map[string]any{"name": "Mods"}, as("mo"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NO_ADMIN_SCOPE", "DELETE", "/v3/groups/g", nil, as("mo"))
	e.fails(http.StatusForbidden, "ERR_GROUP_NOT_JOINED", "DELETE", "/v3/groups/g", nil, as("out"))

	// owner, ann, max (admins), mo, pam (moderators), new2 (participant).
	if n := e.membersCount("g"); n != 6 {
		t.Fatalf("membersCount %v, want 6", n)
	}
	e.must("DELETE", "/v3/groups/g", nil, as("ann"))
}

func TestGroupMessagesNeedMembership(t *testing.T) {
	t.Parallel()
	e := start(t)
	tokens := e.users("alice", "bob", "carol")
	e.must("POST", "/v3/groups", map[string]any{"guid": "chat", "name": "Chat", "type": "public", "members": map[string]any{
		"participants": []string{"bob"}}}, as("alice"))
	bob := e.dial(tokens["bob"])
	send := map[string]any{"receiver": "chat", "receiverType": "group", "category": "message", "type": "text", "data": map[string]any{"text": "hi all"}}
	r := e.must("POST", "/v3/messages", send, as("alice"))
	if str(r.Data(), "conversationId") != "group_chat" || str(r.Data(), "sender") != "alice" {
		t.Fatalf("group message: %s", r.Raw)
	}
	if f := bob.nextOf("message"); str(f.Data, "data.text") != "hi all" {
		t.Fatalf("bob got %v", f.Data)
	}
	e.fails(http.StatusForbidden, "ERR_NOT_A_MEMBER", "POST", "/v3/messages", send, as("carol"))
	// Kicked members can no longer post; joining lets them.
	e.must("DELETE", "/v3/groups/chat/members/bob", nil, nil)
	e.fails(http.StatusForbidden, "ERR_NOT_A_MEMBER", "POST", "/v3/messages", send, as("bob"))
	e.must("POST", "/v3/groups/chat/members", nil, as("carol"))
	e.must("POST", "/v3/messages", send, as("carol"))
}

func TestGroupAppIsolation(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.user("alice")
	e.must("POST", "/v3/groups", map[string]any{"guid": "team", "name": "Team", "type": "public"}, as("alice"))
	other, err := e.srv.App.CreateApp(t.Context(), "Other", "eu")
	if err != nil {
		t.Fatal(err)
	}
	o := hdr{"appId": other.App.ID, "apiKey": other.RESTAPIKey}
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/team", nil, o)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/team/members", nil, o)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "PUT", "/v3/groups/team", map[string]any{"name": "Mine"}, o)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "DELETE", "/v3/groups/team", nil, o)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "POST", "/v3/groups/team/members", map[string]any{"participants": []string{"alice"}}, o)
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "POST", "/v3/groups/team/bannedusers/alice", nil, o)
	if r := e.must("GET", "/v3/groups", nil, o); len(r.List()) != 0 || dig(r.Meta(), "pagination.total") != 0.0 {
		t.Fatalf("the other app lists %s", r.Raw)
	}
	// The same guid (and uid) may exist in both apps, independently.
	e.must("POST", "/v3/users", map[string]any{"uid": "alice", "name": "Other Alice"}, o)
	e.must("POST", "/v3/groups", map[string]any{"guid": "team", "name": "Other Team", "type": "private"}, o)
	e.must("DELETE", "/v3/groups/team", nil, o)
	if r := e.must("GET", "/v3/groups/team", nil, nil); str(r.Data(), "name") != "Team" || r.Data()["membersCount"] != 1.0 {
		t.Fatalf("the first app's group changed: %s", r.Raw)
	}
}
