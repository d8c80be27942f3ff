package chat

import "encoding/json"

// Group types.
const (
	GroupPublic   = "public"
	GroupPassword = "password"
	GroupPrivate  = "private"
)

// Member scopes, from most to least powerful. The owner is an admin.
const (
	ScopeAdmin       = "admin"
	ScopeModerator   = "moderator"
	ScopeParticipant = "participant"
)

// Group is a chat group, in CometChat's JSON shape.
type Group struct {
	GUID         string          `json:"guid"`
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Icon         string          `json:"icon,omitempty"`
	Description  string          `json:"description,omitempty"`
	Owner        string          `json:"owner,omitempty"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	Tags         []string        `json:"tags,omitempty"`
	MembersCount int             `json:"membersCount"`
	CreatedAt    int64           `json:"createdAt"`
	UpdatedAt    int64           `json:"updatedAt,omitempty"`

	ConversationID string `json:"conversationId"`
	// Per-viewer fields, filled when acting on behalf of a user.
	HasJoined bool   `json:"hasJoined,omitempty"`
	Scope     string `json:"scope,omitempty"`
	JoinedAt  int64  `json:"joinedAt,omitempty"`

	// PasswordHash is never serialized.
	PasswordHash string `json:"-"`
}

// Member is a user in a group, with the member's scope.
type Member struct {
	User
	Scope    string `json:"scope"`
	JoinedAt int64  `json:"joinedAt"`
}

// BannedUser is a user banned from a group.
type BannedUser struct {
	User
	BannedAt int64 `json:"bannedAt"`
}

// ParseGroupType returns the canonical group type, case-insensitively.
func ParseGroupType(s string) (string, bool) {
	return parseEnum(s, GroupPublic, GroupPassword, GroupPrivate)
}

// ParseScope returns the canonical member scope, case-insensitively.
func ParseScope(s string) (string, bool) {
	return parseEnum(s, ScopeAdmin, ScopeModerator, ScopeParticipant)
}

// ScopeRank orders scopes: admin 3, moderator 2, participant 1, other 0.
func ScopeRank(scope string) int {
	switch scope {
	case ScopeAdmin:
		return 3
	case ScopeModerator:
		return 2
	case ScopeParticipant:
		return 1
	}
	return 0
}
