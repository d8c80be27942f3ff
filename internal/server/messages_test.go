package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
)

// sendText sends a text message from one user to another and returns its id.
func sendText(e *env, from, to, text string) string {
	e.t.Helper()
	r := e.say(from, to, text)
	id := str(r.Data(), "id")
	if id == "" {
		e.t.Fatalf("send: no id: %s", r.Raw)
	}
	return id
}

// ids returns the ids of a list answer, in order.
func ids(r resp) []string {
	var out []string
	for _, m := range r.List() {
		out = append(out, str(m, "id"))
	}
	return out
}

// numID parses a message id, which must be a string of digits.
func numID(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatalf("id %q is not a string of digits", id)
	}
	return n
}

// pageAll follows meta.next from a first query until a page comes back
// with fewer than limit messages, checking every page on the way, and
// returns every id in the order of the conversation (ascending).
func pageAll(e *env, path string, first url.Values, h hdr, limit int) []string {
	e.t.Helper()
	q := first
	var pages [][]string
	for range 100 {
		r := e.must("GET", path+"?"+q.Encode(), nil, h)
		page := ids(r)
		if got := dig(r.Meta(), "current.count"); got != float64(len(page)) {
			e.t.Fatalf("meta.current.count %v, %d messages: %s", got, len(page), r.Raw)
		}
		if got := dig(r.Meta(), "current.limit"); got != float64(limit) {
			e.t.Fatalf("meta.current.limit %v, want %d", got, limit)
		}
		if !slices.IsSortedFunc(page, func(a, b string) int { return int(numID(e.t, a) - numID(e.t, b)) }) {
			e.t.Fatalf("page not in ascending id order: %v", page)
		}
		pages = append(pages, page)
		if len(page) < limit {
			break
		}
		next, _ := r.Meta()["next"].(map[string]any)
		q = url.Values{"limit": {strconv.Itoa(limit)}, "affix": {str(next, "affix")}, "id": {str(next, "id")}}
	}
	var out []string
	if q.Get("affix") == "prepend" || first.Get("affix") == "" {
		slices.Reverse(pages)
	}
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

func TestMessageCursorsPageThroughEverything(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "carol")
	var sent []string
	for i := range 250 {
		from, to := "alice", "bob"
		if i%3 == 0 {
			from, to = "bob", "alice"
		}
		sent = append(sent, sendText(e, from, to, fmt.Sprintf("message %d", i)))
		if i%50 == 0 {
			sendText(e, "carol", "alice", "noise") // another conversation
		}
	}

	// Forwards from the start, as alice.
	got := pageAll(e, "/v3/users/bob/messages", url.Values{"limit": {"100"}, "affix": {"append"}, "id": {"0"}}, as("alice"), 100)
	if !slices.Equal(got, sent) {
		t.Fatalf("append from 0: %d ids, want the %d sent in order (first %v)", len(got), len(sent), got[:min(5, len(got))])
	}
	// Backwards from the newest (the default), as bob.
	got = pageAll(e, "/v3/users/alice/messages", url.Values{"limit": {"100"}}, as("bob"), 100)
	if !slices.Equal(got, sent) {
		t.Fatalf("prepend from newest: %d ids, want the %d sent in order", len(got), len(sent))
	}

	// The default page is the newest 100, and next points before its oldest.
	r := e.must("GET", "/v3/users/bob/messages?limit=100", nil, as("alice"))
	if page := ids(r); !slices.Equal(page, sent[150:]) {
		t.Fatalf("default page: %v..., want the newest 100", page[:3])
	}
	if n := r.Meta()["next"].(map[string]any); str(n, "affix") != "prepend" || str(n, "id") != sent[150] || n["sentAt"] == nil {
		t.Fatalf("default next: %v", n)
	}
	// An id cursor without affix means "after it".
	r = e.must("GET", "/v3/users/bob/messages?limit=2&id="+sent[10], nil, as("alice"))
	if page := ids(r); !slices.Equal(page, sent[11:13]) {
		t.Fatalf("id without affix: %v, want %v", page, sent[11:13])
	}
	// An empty page hands back the request's cursor, to poll later.
	r = e.must("GET", "/v3/users/bob/messages?affix=append&id="+sent[249], nil, as("alice"))
	if n := r.Meta()["next"].(map[string]any); len(r.List()) != 0 || str(n, "id") != sent[249] || str(n, "affix") != "append" {
		t.Fatalf("empty page: %s", r.Raw)
	}
	// A sentAt cursor: everything was sent at or after the first message.
	first := e.must("GET", "/v3/messages/"+sent[0], nil, nil)
	r = e.must("GET", "/v3/users/bob/messages?limit=1000&affix=append&sentAt="+strconv.FormatInt(int64(first.Data()["sentAt"].(float64)), 10), nil, as("alice"))
	if len(r.List()) != 250 {
		t.Fatalf("sentAt append: %d messages, want 250", len(r.List()))
	}

	// The admin view pages through the whole app (carol's noise too).
	all := pageAll(e, "/v3/messages", url.Values{"limit": {"100"}, "affix": {"append"}}, nil, 100)
	if len(all) != 255 {
		t.Fatalf("admin view: %d messages, want 255", len(all))
	}
	// On behalf of bob, only bob's conversations.
	if n := len(pageAll(e, "/v3/messages", url.Values{"limit": {"1000"}}, as("bob"), 1000)); n != 250 {
		t.Fatalf("bob's view of /v3/messages: %d messages, want 250", n)
	}
	// And one conversation by id.
	r = e.must("GET", "/v3/messages?limit=1000&conversationId=alice_user_carol", nil, nil)
	if len(r.List()) != 5 || str(r.List()[0], "sender") != "carol" {
		t.Fatalf("conversationId filter: %d messages", len(r.List()))
	}
}

func TestMessageFilters(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "carol")
	list := func(query string) []string {
		t.Helper()
		return ids(e.must("GET", "/v3/users/bob/messages?limit=1000&"+query, nil, as("alice")))
	}
	plain := sendText(e, "alice", "bob", "Hello Bob, how are you?")
	mention := sendText(e, "alice", "bob", "ping <@uid:carol> and <@uid:BOB>")
	tagged := str(e.must("POST", "/v3/messages", map[string]any{"receiver": "bob", "receiverType": "user", "tags": []string{"urgent", "a<b"},
		"data": map[string]any{"text": "tagged"}}, as("alice")).Data(), "id")
	image := str(e.must("POST", "/v3/messages", map[string]any{"receiver": "alice", "receiverType": "user", "type": "image",
		"data": map[string]any{"attachments": []any{map[string]any{"url": "https://example.org/cat.png", "name": "cat.png"}}}}, as("bob")).Data(), "id")
	custom := str(e.must("POST", "/v3/messages", map[string]any{"receiver": "bob", "receiverType": "user", "category": "custom", "type": "location",
		"data": map[string]any{"customData": map[string]any{"lat": 1}}}, as("alice")).Data(), "id")
	reply := str(e.must("POST", "/v3/messages/"+plain+"/thread", map[string]any{"data": map[string]any{"text": "fine, thanks"}}, as("bob")).Data(), "id")
	deleted := sendText(e, "bob", "alice", "oops")
	e.must("DELETE", "/v3/messages/"+deleted, nil, as("bob"))
	// The soft delete stored a "deleted" action message after everything.
	everything := list("")
	if len(everything) != 8 || everything[7] == deleted {
		t.Fatalf("all: %v", everything)
	}
	action := everything[7]

	cases := []struct {
		query string
		want  []string
	}{
		{"category=message", []string{plain, mention, tagged, image, reply, deleted}},
		{"category=custom", []string{custom}},
		{"categories=custom,action", []string{custom, action}},
		{"category=ACTION", []string{action}},
		{"type=image", []string{image}},
		{"types=image,location", []string{image, custom}},
		{"category=message&type=text", []string{plain, mention, tagged, reply, deleted}},
		{"hideDeleted=true&category=message", []string{plain, mention, tagged, image, reply}},
		{"onlyDeleted=true", []string{deleted}},
		{"searchKey=bob,", []string{plain}},
		{"searchKey=HOW ARE", []string{plain}},
		{"searchKey=100%", nil},
		{"tags=urgent", []string{tagged}},
		{"tags=a<b", []string{tagged}},
		{"withTags=true&tags=nothing,urgent", []string{tagged}},
		{"hasMentions=true", []string{mention}},
		{"mentionedUids=carol", []string{mention}},
		{"mentionedUids=dave,BOB", []string{mention}},
		{"mentionedUids=alice", nil},
		{"hasAttachments=true", []string{image}},
		{"attachmentTypes=image", []string{image}},
		{"attachmentTypes=video", nil},
		{"hideReplies=true&category=message", []string{plain, mention, tagged, image, deleted}},
		{"sender=bob&category=message", []string{image, reply, deleted}},
	}
	for _, c := range cases {
		if got := list(url.PathEscape(c.query)); !slices.Equal(got, c.want) {
			// PathEscape keeps '=' and '&' and escapes '<' and '%'.
			t.Errorf("%s: got %v, want %v", c.query, got, c.want)
		}
	}

	// mentionedMe and mentionedUsers, as bob sees the message.
	r := e.must("GET", "/v3/messages/"+mention, nil, as("bob"))
	if r.Data()["mentionedMe"] != true {
		t.Fatalf("mentionedMe for bob: %s", r.Raw)
	}
	users, _ := r.Data()["mentionedUsers"].([]any)
	if len(users) != 2 || str(users[0].(map[string]any), "uid") != "carol" || str(users[1].(map[string]any), "uid") != "bob" {
		t.Fatalf("mentionedUsers: %s", r.Raw)
	}
	if r := e.must("GET", "/v3/messages/"+mention, nil, as("alice")); r.Data()["mentionedMe"] != nil {
		t.Fatalf("mentionedMe for alice: %s", r.Raw)
	}
	if got := ids(e.must("GET", "/v3/users/alice/messages?myMentionsOnly=true", nil, as("bob"))); !slices.Equal(got, []string{mention}) {
		t.Fatalf("myMentionsOnly: %v", got)
	}
	// Time bounds are inclusive.
	sentAt := int64(e.must("GET", "/v3/messages/"+plain, nil, nil).Data()["sentAt"].(float64))
	if got := list("fromTimestamp=" + strconv.FormatInt(sentAt, 10)); len(got) != 8 {
		t.Fatalf("fromTimestamp: %d", len(got))
	}
	if got := list("toTimestamp=" + strconv.FormatInt(sentAt-1, 10)); len(got) != 0 {
		t.Fatalf("toTimestamp before everything: %v", got)
	}
}

func TestMessageListErrors(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob")
	sendText(e, "alice", "bob", "hi")
	bad := map[string]string{
		"limit=0":                        "limit",
		"limit=1001":                     "limit",
		"affix=sideways":                 "affix",
		"id=abc":                         "id",
		"category=bogus":                 "category",
		"hideDeleted=true&onlyDeleted=1": "hideDeleted",
		"unread=maybe":                   "unread",
		"attachmentTypes=text":           "attachmentTypes",
	}
	for query, field := range bad {
		r := e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/users/bob/messages?"+query, nil, as("alice"))
		if details, _ := dig(r.Body, "error.details").(map[string]any); details[field] == nil {
			t.Errorf("%s: details %v, want a message for %s", query, details, field)
		}
	}
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/messages?conversationId=nonsense", nil, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/messages?unread=true", nil, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/messages/1/thread?page=2", nil, nil)
	e.fails(http.StatusBadRequest, "ERR_ON_BEHALF_OF_REQUIRED", "GET", "/v3/users/bob/messages", nil, nil)
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "GET", "/v3/users/nobody/messages", nil, as("alice"))
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "GET", "/v3/users/bob/messages", nil, as("nobody"))
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/nogroup/messages", nil, as("alice"))
	e.fails(http.StatusForbidden, "AUTH_ERR_NO_ACCESS", "GET", "/v3/messages", nil, hdr{"apiKey": e.authKey})
}

func TestGetMessage(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "eve")
	id := sendText(e, "alice", "bob", "secret")
	for _, viewer := range []hdr{nil, as("alice"), as("bob")} {
		r := e.must("GET", "/v3/messages/"+id, nil, viewer)
		if str(r.Data(), "id") != id || str(r.Data(), "data.text") != "secret" || str(r.Data(), "conversationId") != "alice_user_bob" ||
			str(r.Data(), "data.entities.sender.entity.uid") != "alice" || str(r.Data(), "data.entities.receiver.entity.uid") != "bob" {
			t.Fatalf("get as %v: %s", viewer, r.Raw)
		}
	}
	e.fails(http.StatusForbidden, "ERR_MESSAGE_NO_ACCESS", "GET", "/v3/messages/"+id, nil, as("eve"))
	e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "GET", "/v3/messages/abc", nil, nil)
	e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "GET", "/v3/messages/99999", nil, nil)
	e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "PUT", "/v3/messages/99999", map[string]any{"data": map[string]any{"text": "x"}}, as("alice"))
	e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "DELETE", "/v3/messages/-3", nil, nil)
}

func TestEditMessage(t *testing.T) {
	t.Parallel()
	e := start(t)
	tok := e.users("alice", "bob", "carol", "dave")
	sockets := map[string]*ws{}
	for _, u := range []string{"alice", "bob", "carol"} {
		sockets[u] = e.dial(tok[u])
	}
	id := sendText(e, "alice", "bob", "helo")
	r := e.must("PUT", "/v3/messages/"+id, map[string]any{"data": map[string]any{"text": "hello <@uid:carol>", "metadata": map[string]any{"v": 2}},
		"tags": []string{"fixed"}}, as("alice"))
	act := r.Data()
	if str(act, "category") != "action" || str(act, "type") != "message" || str(act, "data.action") != "edited" ||
		str(act, "sender") != "alice" || str(act, "receiver") != "bob" || str(act, "conversationId") != "alice_user_bob" {
		t.Fatalf("edit answer is not the edited action message: %s", r.Raw)
	}
	if numID(t, str(act, "id")) <= numID(t, id) {
		t.Fatalf("the action message needs an id of its own after the message: %s", r.Raw)
	}
	if str(act, "data.entities.by.entity.uid") != "alice" || str(act, "data.entities.by.entityType") != "user" ||
		str(act, "data.entities.for.entity.uid") != "bob" || str(act, "data.entities.for.entityType") != "user" ||
		str(act, "data.entities.on.entityType") != "message" {
		t.Fatalf("entities: %s", r.Raw)
	}
	on, _ := dig(act, "data.entities.on.entity").(map[string]any)
	if str(on, "id") != id || str(on, "data.text") != "hello <@uid:carol>" || on["editedAt"] == nil || str(on, "editedBy") != "alice" ||
		dig(on, "data.metadata.v") != 2.0 {
		t.Fatalf("edited message in data.entities.on: %v", on)
	}
	// The receiver and the sender are told.
	for _, u := range []string{"bob", "alice"} {
		f := sockets[u].nextOf("message_edited")
		if str(f.Data, "id") != str(act, "id") || str(f.Data, "data.entities.on.entity.data.text") != "hello <@uid:carol>" {
			t.Fatalf("message_edited frame to %s: %v", u, f.Data)
		}
	}
	// Carol, mentioned but not a party, is not: the next frame she gets
	// is a marker from dave.
	sendText(e, "dave", "carol", "marker")
	sockets["carol"].noneBefore("message_edited", "marker")

	// Reading the message shows the edit, the new tags and the new mention.
	m := e.must("GET", "/v3/messages/"+id, nil, as("bob")).Data()
	if str(m, "data.text") != "hello <@uid:carol>" || m["editedAt"] == nil || m["updatedAt"].(float64) < m["sentAt"].(float64) {
		t.Fatalf("after edit: %v", m)
	}
	if mu, _ := m["mentionedUsers"].([]any); len(mu) != 1 || str(mu[0].(map[string]any), "uid") != "carol" {
		t.Fatalf("mentions not re-parsed: %v", m["mentionedUsers"])
	}
	if got := ids(e.must("GET", "/v3/users/bob/messages?mentionedUids=carol", nil, as("alice"))); !slices.Equal(got, []string{id}) {
		t.Fatalf("mention index not updated: %v", got)
	}
	if got := ids(e.must("GET", "/v3/users/bob/messages?tags=fixed", nil, as("alice"))); !slices.Equal(got, []string{id}) {
		t.Fatalf("tags not updated: %v", got)
	}
	// The action message is part of the conversation's history.
	if got := ids(e.must("GET", "/v3/users/alice/messages?category=action", nil, as("bob"))); !slices.Equal(got, []string{str(act, "id")}) {
		t.Fatalf("action in history: %v", got)
	}
	// Without onBehalfOf the API key edits, recorded as app_system.
	r = e.must("PUT", "/v3/messages/"+id, map[string]any{"data": map[string]any{"text": "moderated"}}, nil)
	if str(r.Data(), "data.entities.on.entity.editedBy") != "app_system" || str(r.Data(), "sender") != "alice" {
		t.Fatalf("admin edit: %s", r.Raw)
	}

	e.fails(http.StatusForbidden, "ERR_MESSAGE_NOT_A_SENDER", "PUT", "/v3/messages/"+id, map[string]any{"data": map[string]any{"text": "mine now"}}, as("bob"))
	e.fails(http.StatusForbidden, "ERR_MESSAGE_ACTION_NOT_ALLOWED", "PUT", "/v3/messages/"+str(act, "id"), map[string]any{"data": map[string]any{"text": "x"}}, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "PUT", "/v3/messages/"+id, map[string]any{}, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_EMPTY_MESSAGE_TEXT", "PUT", "/v3/messages/"+id, map[string]any{"data": map[string]any{"text": ""}}, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_INVALID_MESSAGE_TEXT", "PUT", "/v3/messages/"+id, map[string]any{"data": map[string]any{"text": 5}}, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_INVALID_METADATA", "PUT", "/v3/messages/"+id, map[string]any{"data": map[string]any{"metadata": "x"}}, as("alice"))
	e.must("DELETE", "/v3/messages/"+id, nil, as("alice"))
	e.fails(http.StatusForbidden, "ERR_MESSAGE_ACTION_NOT_ALLOWED", "PUT", "/v3/messages/"+id, map[string]any{"data": map[string]any{"text": "undead"}}, as("alice"))
}

func TestDeleteMessage(t *testing.T) {
	t.Parallel()
	e := start(t)
	tok := e.users("alice", "bob", "carol")
	bob := e.dial(tok["bob"])
	keep := sendText(e, "alice", "bob", "keep me")
	soft := sendText(e, "alice", "bob", "regret")
	e.fails(http.StatusForbidden, "ERR_MESSAGE_NOT_A_SENDER", "DELETE", "/v3/messages/"+soft, nil, as("bob"))

	r := e.must("DELETE", "/v3/messages/"+soft, nil, as("alice"))
	if str(r.Data(), "id") != soft || r.Data()["deletedAt"] == nil || str(r.Data(), "deletedBy") != "alice" || str(r.Data(), "category") != "message" {
		t.Fatalf("soft delete answers the deleted message: %s", r.Raw)
	}
	f := bob.nextOf("message_deleted")
	if str(f.Data, "data.action") != "deleted" || str(f.Data, "data.entities.on.entity.id") != soft || dig(f.Data, "data.entities.on.entity.deletedAt") == nil {
		t.Fatalf("message_deleted frame: %v", f.Data)
	}
	// A soft-deleted message stays in lists, marked.
	list := e.must("GET", "/v3/users/bob/messages?category=message", nil, as("alice")).List()
	if len(list) != 2 || str(list[1], "id") != soft || list[1]["deletedAt"] == nil || list[0]["deletedAt"] != nil {
		t.Fatalf("list after soft delete: %v", list)
	}
	if got := ids(e.must("GET", "/v3/users/bob/messages?category=message&hideDeleted=true", nil, as("alice"))); !slices.Equal(got, []string{keep}) {
		t.Fatalf("hideDeleted: %v", got)
	}
	// Deleting again changes nothing and tells nobody.
	again := e.must("DELETE", "/v3/messages/"+soft, nil, as("alice"))
	if again.Data()["deletedAt"] != r.Data()["deletedAt"] {
		t.Fatalf("second soft delete: %s", again.Raw)
	}
	sendText(e, "carol", "bob", "marker")
	bob.noneBefore("message_deleted", "marker")
	e.fails(http.StatusForbidden, "ERR_MESSAGE_ACTION_NOT_ALLOWED", "DELETE", "/v3/messages/"+str(f.Data, "id"), nil, nil)

	// Permanent: the message, its thread and the actions about it go.
	gone := sendText(e, "alice", "bob", "to be purged")
	reply := str(e.must("POST", "/v3/messages/"+gone+"/thread", map[string]any{"data": map[string]any{"text": "a reply"}}, as("bob")).Data(), "id")
	edit := str(e.must("PUT", "/v3/messages/"+gone, map[string]any{"data": map[string]any{"text": "purge me"}}, as("alice")).Data(), "id")
	r = e.must("DELETE", "/v3/messages/"+gone, map[string]any{"permanent": true}, nil)
	if r.Data()["success"] != true || str(r.Data(), "id") != gone {
		t.Fatalf("permanent delete answer: %s", r.Raw)
	}
	for _, id := range []string{gone, reply, edit} {
		e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "GET", "/v3/messages/"+id, nil, nil)
	}
	f = bob.nextOf("message_deleted")
	if on, _ := dig(f.Data, "data.entities.on.entity").(map[string]any); str(on, "id") != gone || on["deletedAt"] == nil || str(on, "data.text") != "" ||
		str(on, "deletedBy") != "app_system" {
		t.Fatalf("permanent delete frame must identify the message without its content: %v", f.Data)
	}
	// The conversation's last message falls back to the newest one left.
	conv := e.must("GET", "/v3/users/bob/conversation", nil, as("alice")).Data()
	if str(conv, "lastMessage.id") != soft {
		t.Fatalf("last message after permanent delete: %v", conv["lastMessage"])
	}
	// ?permanent=true works as well as the body.
	e.must("DELETE", "/v3/messages/"+keep+"?permanent=true", nil, as("alice"))
	e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "GET", "/v3/messages/"+keep, nil, nil)
}

func TestThreads(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "eve")
	parent := sendText(e, "alice", "bob", "thread starter")
	other := sendText(e, "alice", "eve", "elsewhere")
	r1 := e.must("POST", "/v3/messages/"+parent+"/thread", map[string]any{"data": map[string]any{"text": "first reply"}}, as("bob"))
	if str(r1.Data(), "parentId") != parent || str(r1.Data(), "receiver") != "alice" || str(r1.Data(), "conversationId") != "alice_user_bob" {
		t.Fatalf("reply: %s", r1.Raw)
	}
	r2 := e.must("POST", "/v3/messages/"+parent+"/thread", map[string]any{"receiver": "bob", "receiverType": "user", "data": map[string]any{"text": "second"}}, as("alice"))
	// parentId on POST /v3/messages is the same path.
	r3 := e.must("POST", "/v3/messages", map[string]any{"receiver": "alice", "receiverType": "user", "parentId": parent, "data": map[string]any{"text": "third"}}, as("bob"))
	if p := e.must("GET", "/v3/messages/"+parent, nil, nil); p.Data()["replyCount"] != 3.0 {
		t.Fatalf("replyCount: %s", p.Raw)
	}
	want := []string{str(r1.Data(), "id"), str(r2.Data(), "id"), str(r3.Data(), "id")}
	if got := ids(e.must("GET", "/v3/messages/"+parent+"/thread", nil, as("alice"))); !slices.Equal(got, want) {
		t.Fatalf("thread: %v, want %v", got, want)
	}
	if got := ids(e.must("GET", "/v3/messages/"+parent+"/thread?limit=2&affix=append&id=0", nil, nil)); !slices.Equal(got, want[:2]) {
		t.Fatalf("thread page: %v", got)
	}
	if got := ids(e.must("GET", "/v3/users/bob/messages?hideReplies=true", nil, as("alice"))); !slices.Equal(got, []string{parent}) {
		t.Fatalf("hideReplies: %v", got)
	}
	if got := ids(e.must("GET", "/v3/users/bob/messages", nil, as("alice"))); len(got) != 4 {
		t.Fatalf("replies are listed by default: %v", got)
	}
	e.fails(http.StatusBadRequest, "ERR_MESSAGE_THREAD_NESTING", "POST", "/v3/messages/"+str(r1.Data(), "id")+"/thread", map[string]any{"data": map[string]any{"text": "deeper"}}, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_WRONG_MESSAGE_THREAD", "POST", "/v3/messages/"+other+"/thread", map[string]any{"receiver": "bob", "receiverType": "user", "data": map[string]any{"text": "wrong"}}, as("alice"))
	e.fails(http.StatusForbidden, "ERR_MESSAGE_NO_ACCESS", "POST", "/v3/messages/"+parent+"/thread", map[string]any{"data": map[string]any{"text": "me too"}}, as("eve"))
	e.fails(http.StatusForbidden, "ERR_MESSAGE_NO_ACCESS", "GET", "/v3/messages/"+parent+"/thread", nil, as("eve"))
	e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "POST", "/v3/messages/424242/thread", map[string]any{"data": map[string]any{"text": "x"}}, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_ON_BEHALF_OF_REQUIRED", "POST", "/v3/messages/"+parent+"/thread", map[string]any{"data": map[string]any{"text": "x"}}, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/messages/"+parent+"/thread", map[string]any{"multipleReceivers": map[string]any{"uids": []string{"bob"}}, "data": map[string]any{"text": "x"}}, as("alice"))
}

func TestMUIDIdempotency(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "carol")
	body := func(to string) map[string]any {
		return map[string]any{"receiver": to, "receiverType": "user", "muid": "client-1", "data": map[string]any{"text": "once"}}
	}
	first := e.must("POST", "/v3/messages", body("bob"), as("alice"))
	again := e.must("POST", "/v3/messages", body("bob"), as("alice"))
	if str(first.Data(), "id") != str(again.Data(), "id") || str(again.Data(), "muid") != "client-1" {
		t.Fatalf("same muid twice: %s then %s", first.Raw, again.Raw)
	}
	if n := len(e.must("GET", "/v3/users/bob/messages", nil, as("alice")).List()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	// The same muid in another conversation is another message.
	if other := e.must("POST", "/v3/messages", body("carol"), as("alice")); str(other.Data(), "id") == str(first.Data(), "id") {
		t.Fatalf("muid must be scoped to the conversation: %s", other.Raw)
	}
}

func TestBlockedUsersCannotMessage(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob")
	before := sendText(e, "bob", "alice", "before the block")
	e.must("POST", "/v3/users/alice/blockedusers", map[string]any{"blockedUids": []string{"bob"}}, nil)
	msg := func(from, to string) map[string]any {
		return map[string]any{"receiver": to, "receiverType": "user", "data": map[string]any{"text": "hi from " + from}}
	}
	e.fails(http.StatusForbidden, "ERR_BLOCKED_RECEIVER", "POST", "/v3/messages", msg("bob", "alice"), as("bob"))
	e.fails(http.StatusForbidden, "ERR_BLOCKED_RECEIVER", "POST", "/v3/messages", msg("alice", "bob"), as("alice"))
	// The history stays readable; the blocker may hide the blocked sender.
	if got := ids(e.must("GET", "/v3/users/bob/messages", nil, as("alice"))); !slices.Equal(got, []string{before}) {
		t.Fatalf("history after block: %v", got)
	}
	if got := e.must("GET", "/v3/users/bob/messages?hideMessagesFromBlockedUsers=true", nil, as("alice")).List(); len(got) != 0 {
		t.Fatalf("hideMessagesFromBlockedUsers: %v", got)
	}
	if got := e.must("GET", "/v3/users/alice/messages?hideMessagesFromBlockedUsers=true", nil, as("bob")).List(); len(got) != 1 {
		t.Fatalf("bob blocked nobody: %v", got)
	}
	e.must("DELETE", "/v3/users/alice/blockedusers", map[string]any{"blockedUids": []string{"bob"}}, nil)
	e.must("POST", "/v3/messages", msg("bob", "alice"), as("bob"))
	e.must("POST", "/v3/messages", msg("alice", "bob"), as("alice"))
}
