package chat

import (
	"bytes"
	"encoding/json"
	"net/url"
	"unicode/utf8"
)

// Presence statuses of a user.
const (
	StatusAvailable = "available"
	StatusOffline   = "offline"
)

// DefaultRole is the role of a user created without one.
const DefaultRole = "default"

// User is a chat user. JSON tags give CometChat's user object; empty fields
// are omitted as CometChat does.
type User struct {
	UID           string          `json:"uid"`
	Name          string          `json:"name"`
	Avatar        string          `json:"avatar,omitempty"`
	Link          string          `json:"link,omitempty"`
	Role          string          `json:"role"`
	StatusMessage string          `json:"statusMessage,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Tags          []string        `json:"tags,omitempty"`
	Status        string          `json:"status"`
	CreatedAt     int64           `json:"createdAt"`
	UpdatedAt     int64           `json:"updatedAt,omitempty"`
	LastActiveAt  int64           `json:"lastActiveAt,omitempty"`
	DeactivatedAt int64           `json:"deactivatedAt,omitempty"`

	// Per-viewer fields, filled when a request acts on behalf of a user.
	ConversationID string `json:"conversationId,omitempty"`
	BlockedByMe    bool   `json:"blockedByMe,omitempty"`
	HasBlockedMe   bool   `json:"hasBlockedMe,omitempty"`

	// AuthToken is set only in the response of a create with withAuthToken.
	AuthToken string `json:"authToken,omitempty"`
}

// Active reports whether the user is not deactivated.
func (u *User) Active() bool { return u.DeactivatedAt == 0 }

// ValidateName checks a user or group name.
func ValidateName(v *Validation, field, name string, required bool) {
	switch {
	case name == "" && required:
		v.Add(field, "The %s field is required.", field)
	case !utf8.ValidString(name):
		v.Add(field, "The %s must be valid UTF-8.", field)
	case utf8.RuneCountInString(name) > MaxNameLen:
		v.Add(field, "The %s may not be greater than %d characters.", field, MaxNameLen)
	}
}

// ValidateURL checks an optional absolute URL field (avatar, link, icon).
func ValidateURL(v *Validation, field, raw string) {
	if raw == "" {
		return
	}
	if len(raw) > MaxURLLen {
		v.Add(field, "The %s may not be greater than %d characters.", field, MaxURLLen)
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		v.Add(field, "The %s format is invalid.", field)
	}
}

// ValidateMetadata checks that raw, when present, is a JSON object of at
// most MaxMetadataBytes.
func ValidateMetadata(v *Validation, field string, raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	if len(raw) > MaxMetadataBytes {
		v.Add(field, "The %s may not be greater than %d bytes.", field, MaxMetadataBytes)
		return
	}
	if !IsJSONObject(raw) {
		v.Add(field, "The %s must be a JSON object.", field)
	}
}

// ValidateTags checks a tag list.
func ValidateTags(v *Validation, field string, tags []string) {
	if len(tags) > MaxTags {
		v.Add(field, "The %s may not have more than %d items.", field, MaxTags)
	}
	for _, t := range tags {
		if t == "" || utf8.RuneCountInString(t) > MaxTagLen {
			v.Add(field, "Each of the %s must be 1 to %d characters.", field, MaxTagLen)
			return
		}
	}
}

// ValidateID normalizes *id and checks it as a uid or guid.
func ValidateID(v *Validation, field string, id *string) {
	*id = NormalizeID(*id)
	switch {
	case *id == "":
		v.Add(field, "The %s field is required.", field)
	case len(*id) > MaxUIDLen:
		v.Add(field, "The %s may not be greater than %d characters.", field, MaxUIDLen)
	case !ValidID(*id):
		v.Add(field, "The %s may only contain letters, numbers, dashes and underscores.", field)
	case *id == SystemUID:
		v.Add(field, "The %s %q is reserved.", field, *id)
	}
}

// IsJSONObject reports whether raw holds a JSON object.
func IsJSONObject(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return json.Valid(raw)
		default:
			return false
		}
	}
	return false
}

// PrivateMetadataKey holds a user's private data inside metadata (email,
// phone): shown to the admin API and never to other users.
const PrivateMetadataKey = "@private"

// Public returns a copy of u as other users may see it: without the
// private part of its metadata.
func (u *User) Public() *User {
	c := *u
	if len(u.Metadata) == 0 || !bytes.Contains(u.Metadata, []byte(`"`+PrivateMetadataKey+`"`)) {
		return &c
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(u.Metadata, &m) != nil {
		return &c
	}
	delete(m, PrivateMetadataKey)
	c.Metadata = nil
	if len(m) > 0 {
		c.Metadata, _ = json.Marshal(m) // a map of raw JSON values always marshals
	}
	return &c
}

// UserEntity wraps the public view of u as a message entity.
func UserEntity(u *User) *Entity { return &Entity{Entity: u.Public(), EntityType: ReceiverUser} }
