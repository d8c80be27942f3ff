package chat

import (
	"strconv"
	"testing"
)

// BenchmarkRelayTargets measures the relay decision made for every
// message inside its transaction: a 1:1 message to a bot, and a group
// message with 20 member bots of mixed group settings.
//
//	go test -run '^$' -bench RelayTargets ./internal/chat/
func BenchmarkRelayTargets(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		m := &Message{Sender: "alice", ReceiverType: ReceiverUser, Receiver: "helpdesk", Category: CategoryMessage, Type: TypeText,
			Data: MessageData{Text: "where is my order?"}}
		cands := []RelayCandidate{{UID: "helpdesk", Enabled: true, GroupChatSetting: GroupChatNone}}
		for b.Loop() {
			if len(RelayTargets(m, cands, DefaultHopLimit)) != 1 {
				b.Fatal("no target")
			}
		}
	})
	b.Run("group-20-bots", func(b *testing.B) {
		text := "<@uid:bot3> /status of order 42"
		m := &Message{Sender: "alice", ReceiverType: ReceiverGroup, Receiver: "support", Category: CategoryMessage, Type: TypeText,
			Data: MessageData{Text: text}, Mentions: ParseMentions(text)}
		settings := []string{GroupChatAll, GroupChatSlashed, GroupChatMentioned, GroupChatNone}
		var cands []RelayCandidate
		for i := range 20 {
			cands = append(cands, RelayCandidate{UID: "bot" + strconv.Itoa(i), Enabled: i%7 != 6, GroupChatSetting: settings[i%4]})
		}
		for b.Loop() {
			if len(RelayTargets(m, cands, DefaultHopLimit)) == 0 {
				b.Fatal("no target")
			}
		}
	})
}
