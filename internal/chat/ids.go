package chat

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Limits from CometChat's published constraints (spec section 6).
const (
	MaxUIDLen         = 100   // uid and guid
	MaxNameLen        = 100   // user, group and API key names
	MaxURLLen         = 3000  // avatar, link, icon
	MaxMetadataBytes  = 5120  // encoded metadata object
	MaxTags           = 25    // tags per entity
	MaxTagLen         = 100   // characters per tag
	MaxGroupPassword  = 100   // group password characters
	MaxDescriptionLen = 255   // group description
	MaxStatusMessage  = 255   // user status message
	MaxMessageBytes   = 65536 // whole message JSON
	MaxMessageData    = 10240 // the message's data object
	MaxRoleLen        = 100
)

// SystemUID is the sender of actions taken by the server itself (an API key
// without onBehalfOf).
const SystemUID = "app_system"

// NormalizeID lower-cases an identifier (uid, guid), as CometChat does.
func NormalizeID(id string) string { return strings.ToLower(strings.TrimSpace(id)) }

// ValidID reports whether id (already normalized) is a legal uid or guid:
// 1 to 100 characters of a-z, 0-9, '-' and '_'.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxUIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// RandomHex returns n random bytes as lower-case hex (2n characters).
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// ConversationID of a 1:1 conversation: the two uids in lexicographic order,
// so both directions share one id (docs/decisions/conversation-ids.md).
func UserConversationID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "_user_" + b
}

// GroupConversationID of a group conversation.
func GroupConversationID(guid string) string { return "group_" + guid }

// ParseConversationID splits a conversation id into its kind and parties.
// For a group it returns ("group", guid, ""); for users ("user", a, b).
func ParseConversationID(id string) (kind, a, b string, ok bool) {
	if g, found := strings.CutPrefix(id, "group_"); found && ValidID(g) {
		return ReceiverGroup, g, "", true
	}
	// uids may themselves contain "_user_"; try every split point.
	for i := 0; i+len("_user_") <= len(id); i++ {
		if id[i:i+len("_user_")] != "_user_" {
			continue
		}
		x, y := id[:i], id[i+len("_user_"):]
		if ValidID(x) && ValidID(y) && x <= y {
			return ReceiverUser, x, y, true
		}
	}
	return "", "", "", false
}
