package chat

import (
	"slices"
	"testing"
)

func TestRelayTargets(t *testing.T) {
	t.Parallel()
	bot := func(uid, setting string) RelayCandidate {
		return RelayCandidate{UID: uid, Enabled: true, GroupChatSetting: setting}
	}
	direct := func(sender, receiver, text string) *Message {
		return &Message{Sender: sender, Receiver: receiver, ReceiverType: ReceiverUser, Category: CategoryMessage, Type: TypeText,
			Data: MessageData{Text: text}, Mentions: ParseMentions(text)}
	}
	group := func(sender, text string) *Message {
		m := direct(sender, "g", text)
		m.ReceiverType = ReceiverGroup
		return m
	}
	all, slash, mention, none := bot("b-all", GroupChatAll), bot("b-slash", GroupChatSlashed), bot("b-mention", GroupChatMentioned), bot("b-none", GroupChatNone)
	groupBots := []RelayCandidate{all, slash, mention, none}
	disabled := bot("helper", GroupChatAll)
	disabled.Enabled = false

	withHop := func(m *Message, hop int) *Message { m.Hop = hop; return m }
	withCategory := func(m *Message, c string) *Message { m.Category = c; return m }
	deleted := func(m *Message) *Message { m.DeletedAt = 1; return m }

	cases := []struct {
		name  string
		m     *Message
		cands []RelayCandidate
		want  []string
	}{
		{"1:1 to an enabled bot", direct("alice", "helper", "hi"), []RelayCandidate{bot("helper", GroupChatNone)}, []string{"helper"}},
		{"1:1 to a disabled bot", direct("alice", "helper", "hi"), []RelayCandidate{disabled}, nil},
		{"1:1 from the bot itself", direct("helper", "alice", "hi"), []RelayCandidate{bot("helper", GroupChatAll)}, nil},
		{"1:1 bot to bot", direct("b1", "b2", "hi"), []RelayCandidate{bot("b2", GroupChatNone)}, []string{"b2"}},
		{"group plain text", group("alice", "hello all"), groupBots, []string{"b-all"}},
		{"group slash", group("alice", "/weather paris"), groupBots, []string{"b-all", "b-slash"}},
		{"group slash after spaces", group("alice", "  \n/help"), groupBots, []string{"b-all", "b-slash"}},
		{"group slash not first", group("alice", "see /help"), groupBots, []string{"b-all"}},
		{"group mention", group("alice", "hey <@uid:b-mention> ping"), groupBots, []string{"b-all", "b-mention"}},
		{"group mention in other case", group("alice", "hey <@uid:B-Mention>"), groupBots, []string{"b-all", "b-mention"}},
		{"group mention of another user", group("alice", "hey <@uid:bob>"), groupBots, []string{"b-all"}},
		{"group message from a member bot", group("b-all", "/x <@uid:b-mention>"), groupBots, []string{"b-slash", "b-mention"}},
		{"group disabled", group("alice", "hi"), []RelayCandidate{disabled}, nil},
		{"custom category relayed", withCategory(direct("alice", "helper", ""), CategoryCustom), []RelayCandidate{bot("helper", GroupChatNone)}, []string{"helper"}},
		{"interactive relayed", withCategory(direct("alice", "helper", ""), CategoryInteractive), []RelayCandidate{bot("helper", GroupChatNone)}, []string{"helper"}},
		{"action not relayed", withCategory(group("alice", "joined"), CategoryAction), groupBots, nil},
		{"hop below limit", withHop(direct("b1", "b2", "hi"), 2), []RelayCandidate{bot("b2", GroupChatNone)}, []string{"b2"}},
		{"hop at limit", withHop(direct("b1", "b2", "hi"), 3), []RelayCandidate{bot("b2", GroupChatNone)}, nil},
		{"deleted not relayed", deleted(direct("alice", "helper", "hi")), []RelayCandidate{bot("helper", GroupChatNone)}, nil},
		{"custom in group never slash or mention", withCategory(group("alice", ""), CategoryCustom), groupBots, []string{"b-all"}},
	}
	for _, c := range cases {
		got := RelayTargets(c.m, c.cands, DefaultHopLimit)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestValidateWebhookURL(t *testing.T) {
	t.Parallel()
	local := func(host string) bool { return host == "127.0.0.1" || host == "localhost" }
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://bots.example.org/hook", true},
		{"HTTPS://bots.example.org/hook", true},
		{"http://bots.example.org/hook", false},
		{"http://127.0.0.1:9000/hook", true},
		{"http://localhost:9000/hook", true},
		{"ftp://bots.example.org/", false},
		{"bots.example.org/hook", false},
		{"https://user:pw@bots.example.org/", false},
		{"https:///nohost", false},
		{"", false},
		{"https://bots.example.org/" + string(make([]byte, 0)) + longPath(250), false},
	}
	for _, c := range cases {
		var v Validation
		ValidateWebhookURL(&v, c.url, local)
		if (v.Err() == nil) != c.ok {
			t.Errorf("%q: err %v, want ok=%v", c.url, v.Err(), c.ok)
		}
	}
}

func longPath(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}
