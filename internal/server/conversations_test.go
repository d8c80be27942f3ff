package server

import (
	"net/http"
	"slices"
	"testing"
)

// conversationIDs returns the conversationId of each entry of a list.
func conversationIDs(r resp) []string {
	var out []string
	for _, c := range r.List() {
		out = append(out, str(c, "conversationId"))
	}
	return out
}

func TestConversationsList(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "carol", "dave")
	e.must("PUT", "/v3/users/carol", map[string]any{"tags": []string{"vip"}}, nil)
	sendText(e, "alice", "bob", "hi bob")
	sendText(e, "carol", "alice", "hi alice")
	sendText(e, "carol", "alice", "are you there?")
	last := sendText(e, "bob", "alice", "back to you")
	sendText(e, "carol", "dave", "not alice's business")

	r := e.must("GET", "/v3/conversations", nil, as("alice"))
	if got := conversationIDs(r); !slices.Equal(got, []string{"alice_user_bob", "alice_user_carol"}) {
		t.Fatalf("conversations, newest activity first: %v", got)
	}
	if dig(r.Meta(), "pagination.total") != 2.0 || dig(r.Meta(), "pagination.per_page") != 100.0 {
		t.Fatalf("pagination: %v", r.Meta())
	}
	bob := r.List()[0]
	if str(bob, "conversationType") != "user" || str(bob, "lastMessage.id") != last || str(bob, "lastMessage.data.text") != "back to you" ||
		str(bob, "conversationWith.uid") != "bob" || str(bob, "conversationWith.conversationId") != "alice_user_bob" ||
		bob["createdAt"] == nil || bob["updatedAt"] == nil {
		t.Fatalf("conversation with bob: %v", bob)
	}
	// unreadMessageCount is a string of digits; alice's own messages do not count.
	if bob["unreadMessageCount"] != "1" || r.List()[1]["unreadMessageCount"] != "2" {
		t.Fatalf("unread counts: %v, %v", bob["unreadMessageCount"], r.List()[1]["unreadMessageCount"])
	}
	// bob answered after alice wrote: alice's message shows as read by bob.
	// (The sender's side of a 1:1 conversation is marked read on send.)
	if r := e.must("GET", "/v3/conversations", nil, as("bob")); str(r.List()[0], "unreadMessageCount") != "0" {
		t.Fatalf("bob replied, so he has read alice: %s", r.Raw)
	}

	// Paging, filters.
	r = e.must("GET", "/v3/conversations?perPage=1&page=2", nil, as("alice"))
	if got := conversationIDs(r); !slices.Equal(got, []string{"alice_user_carol"}) || dig(r.Meta(), "pagination.total_pages") != 2.0 {
		t.Fatalf("page 2: %s", r.Raw)
	}
	if got := e.must("GET", "/v3/conversations?conversationType=group", nil, as("alice")).List(); len(got) != 0 {
		t.Fatalf("conversationType=group: %v", got)
	}
	if got := conversationIDs(e.must("GET", "/v3/conversations?conversationType=USER&searchKey=caro", nil, as("alice"))); !slices.Equal(got, []string{"alice_user_carol"}) {
		t.Fatalf("searchKey: %v", got)
	}
	if got := conversationIDs(e.must("GET", "/v3/conversations?userTags=vip", nil, as("alice"))); !slices.Equal(got, []string{"alice_user_carol"}) {
		t.Fatalf("userTags: %v", got)
	}
	e.must("POST", "/v3/users/carol/conversation/read", nil, as("alice"))
	if got := conversationIDs(e.must("GET", "/v3/conversations?unread=true", nil, as("alice"))); !slices.Equal(got, []string{"alice_user_bob"}) {
		t.Fatalf("unread=true: %v", got)
	}

	// An edit is not new activity: the order and the counts stay, the
	// last message shows the new text.
	first := sendText(e, "carol", "alice", "newest from carol")
	sendText(e, "bob", "alice", "newest from bob")
	e.must("PUT", "/v3/messages/"+first, map[string]any{"data": map[string]any{"text": "edited by carol"}}, as("carol"))
	r = e.must("GET", "/v3/conversations", nil, as("alice"))
	if got := conversationIDs(r); !slices.Equal(got, []string{"alice_user_bob", "alice_user_carol"}) {
		t.Fatalf("order after edit: %v", got)
	}
	if c := r.List()[1]; str(c, "lastMessage.data.text") != "edited by carol" || c["unreadMessageCount"] != "1" {
		t.Fatalf("carol's conversation after edit: %v", c)
	}

	e.fails(http.StatusBadRequest, "ERR_ON_BEHALF_OF_REQUIRED", "GET", "/v3/conversations", nil, nil)
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/conversations?conversationType=channel", nil, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "GET", "/v3/conversations?perPage=0", nil, as("alice"))
	if got := e.must("GET", "/v3/conversations", nil, as("dave")).List(); len(got) != 1 {
		t.Fatalf("dave's conversations: %v", got)
	}
}

func TestGetConversation(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.users("alice", "bob", "carol")
	id := sendText(e, "alice", "bob", "hello")
	e.must("POST", "/v3/users/bob/blockedusers", map[string]any{"blockedUids": []string{"alice"}}, nil)
	for _, c := range []struct{ viewer, peer, unread string }{{"alice", "bob", "0"}, {"bob", "alice", "1"}} {
		r := e.must("GET", "/v3/users/"+c.peer+"/conversation", nil, as(c.viewer))
		d := r.Data()
		if str(d, "conversationId") != "alice_user_bob" || str(d, "conversationType") != "user" || d["unreadMessageCount"] != c.unread ||
			str(d, "lastMessage.id") != id || str(d, "conversationWith.uid") != c.peer {
			t.Fatalf("%s's conversation: %s", c.viewer, r.Raw)
		}
	}
	// Per-viewer fields of the peer.
	if d := e.must("GET", "/v3/users/bob/conversation", nil, as("alice")).Data(); dig(d, "conversationWith.hasBlockedMe") != true {
		t.Fatalf("bob blocked alice: %v", d["conversationWith"])
	}
	if d := e.must("GET", "/v3/users/alice/conversation", nil, as("bob")).Data(); dig(d, "conversationWith.blockedByMe") != true {
		t.Fatalf("bob blocked alice: %v", d["conversationWith"])
	}
	e.fails(http.StatusNotFound, "ERR_CONVERSATION_NOT_ACCESSIBLE", "GET", "/v3/users/carol/conversation", nil, as("alice"))
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "GET", "/v3/users/nobody/conversation", nil, as("alice"))
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "GET", "/v3/groups/nogroup/conversation", nil, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_ON_BEHALF_OF_REQUIRED", "GET", "/v3/users/bob/conversation", nil, nil)
}

func TestMarkConversationRead(t *testing.T) {
	t.Parallel()
	e := start(t)
	tok := e.users("alice", "bob", "carol", "dave")
	alice, bob, carol := e.dial(tok["alice"]), e.dial(tok["bob"]), e.dial(tok["carol"])
	var sent []string
	for _, text := range []string{"one", "two", "three"} {
		sent = append(sent, sendText(e, "bob", "alice", text))
	}
	other := sendText(e, "carol", "alice", "elsewhere")
	unread := func() any {
		t.Helper()
		return e.must("GET", "/v3/users/bob/conversation", nil, as("alice")).Data()["unreadMessageCount"]
	}
	if unread() != "3" {
		t.Fatalf("unread before: %v", unread())
	}
	if got := ids(e.must("GET", "/v3/users/bob/messages?unread=true", nil, as("alice"))); !slices.Equal(got, sent) {
		t.Fatalf("unread messages: %v", got)
	}

	// Delivered up to the first message only.
	r := e.must("POST", "/v3/users/bob/conversation/delivered", map[string]any{"messageId": sent[0]}, as("alice"))
	if r.Data()["success"] != true {
		t.Fatalf("delivered: %s", r.Raw)
	}
	f := bob.nextOf("receipt")
	if str(f.Data, "receiptType") != "delivered" || str(f.Data, "messageId") != sent[0] || str(f.Data, "uid") != "alice" ||
		str(f.Data, "conversationId") != "alice_user_bob" || f.Data["at"] == nil {
		t.Fatalf("delivered receipt: %v", f.Data)
	}
	list := e.must("GET", "/v3/users/alice/messages?category=message", nil, as("bob")).List()
	if list[0]["deliveredAt"] == nil || list[1]["deliveredAt"] != nil || list[0]["readAt"] != nil {
		t.Fatalf("bob sees delivery of the first message only: %v", list)
	}
	if got := ids(e.must("GET", "/v3/users/bob/messages?undelivered=true", nil, as("alice"))); !slices.Equal(got, sent[1:]) {
		t.Fatalf("undelivered: %v", got)
	}

	// Read everything: the unread count resets, bob is told.
	e.must("POST", "/v3/users/bob/conversation/read", nil, as("alice"))
	if unread() != "0" {
		t.Fatalf("unread after read: %v", unread())
	}
	f = bob.nextOf("receipt")
	if str(f.Data, "receiptType") != "read" || str(f.Data, "messageId") != sent[2] || str(f.Data, "uid") != "alice" {
		t.Fatalf("read receipt: %v", f.Data)
	}
	// The reader's other devices learn both marks too.
	for _, want := range []string{"delivered", "read"} {
		if f := alice.nextOf("receipt"); str(f.Data, "receiptType") != want || str(f.Data, "uid") != "alice" {
			t.Fatalf("receipt to the reader, want %s: %v", want, f.Data)
		}
	}
	// Carol is not a party: the next frame she gets is a marker from dave.
	sendText(e, "dave", "carol", "marker")
	carol.noneBefore("receipt", "marker")
	for _, viewer := range []string{"bob", "alice"} {
		peer := map[string]string{"bob": "alice", "alice": "bob"}[viewer]
		for _, m := range e.must("GET", "/v3/users/"+peer+"/messages", nil, as(viewer)).List() {
			if m["readAt"] == nil || m["deliveredAt"] == nil {
				t.Fatalf("%s sees message %s without readAt/deliveredAt: %v", viewer, str(m, "id"), m)
			}
		}
	}
	if got := e.must("GET", "/v3/users/bob/messages?unread=true", nil, as("alice")).List(); len(got) != 0 {
		t.Fatalf("unread messages after read: %v", got)
	}
	// The carol conversation is untouched.
	if d := e.must("GET", "/v3/users/carol/conversation", nil, as("alice")).Data(); d["unreadMessageCount"] != "1" {
		t.Fatalf("other conversation: %v", d["unreadMessageCount"])
	}
	// Marks never move back, and a mark that does not move tells nobody.
	e.must("POST", "/v3/users/bob/conversation/read", map[string]any{"messageId": sent[0]}, as("alice"))
	e.must("POST", "/v3/users/bob/conversation/delivered", nil, as("alice"))
	sendText(e, "dave", "bob", "marker")
	bob.noneBefore("receipt", "marker")
	if unread() != "0" {
		t.Fatalf("read mark moved back: %v", unread())
	}
	// A new message is unread again.
	sendText(e, "bob", "alice", "four")
	if unread() != "1" {
		t.Fatalf("unread after a new message: %v", unread())
	}

	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users/bob/conversation/read", map[string]any{"messageId": other}, as("alice"))
	e.fails(http.StatusBadRequest, "ERR_BAD_REQUEST", "POST", "/v3/users/bob/conversation/read", map[string]any{"messageId": "x1"}, as("alice"))
	e.fails(http.StatusNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "POST", "/v3/users/bob/conversation/read", map[string]any{"messageId": 987654}, as("alice"))
	e.fails(http.StatusNotFound, "ERR_CONVERSATION_NOT_ACCESSIBLE", "POST", "/v3/users/carol/conversation/read", nil, as("bob"))
	e.fails(http.StatusNotFound, "ERR_UID_NOT_FOUND", "POST", "/v3/users/nobody/conversation/delivered", nil, as("bob"))
	e.fails(http.StatusNotFound, "ERR_GUID_NOT_FOUND", "POST", "/v3/groups/nogroup/conversation/read", nil, as("bob"))
	e.fails(http.StatusBadRequest, "ERR_ON_BEHALF_OF_REQUIRED", "POST", "/v3/users/bob/conversation/read", nil, nil)
}
