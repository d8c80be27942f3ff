package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// API key scopes.
const (
	ScopeFullAccess = "fullAccess"
	ScopeAuthOnly   = "authOnly"
)

// APIKeyPrefixLen is how many leading characters of a key are kept in clear
// to name it in lists; the key itself is stored only as a SHA-256 hash
// (docs/decisions/api-keys.md).
const APIKeyPrefixLen = 8

// APIKey is a REST API key. Key holds the secret value only in the response
// that creates it.
type APIKey struct {
	Key       string `json:"apiKey,omitempty"`
	Prefix    string `json:"keyPrefix"`
	Name      string `json:"name"`
	Scope     string `json:"scope"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt,omitempty"`

	Hash string `json:"-"`
}

// NewAPIKeyValue returns a fresh 40-character hex key, like CometChat's.
func NewAPIKeyValue() string { return RandomHex(20) }

// HashSecret returns the hex SHA-256 of a secret such as an API key.
func HashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// ParseKeyScope returns the canonical API key scope, case-insensitively.
func ParseKeyScope(s string) (string, bool) {
	return parseEnum(s, ScopeFullAccess, ScopeAuthOnly)
}

// App is a tenant: every user, group and message belongs to one app.
type App struct {
	ID        string `json:"appId"`
	Name      string `json:"name"`
	Region    string `json:"region"`
	CreatedAt int64  `json:"createdAt"`
}

// Regions CometChat uses; parley accepts any of them as a label.
const DefaultRegion = "us"

// ParseRegion returns the canonical region.
func ParseRegion(s string) (string, bool) { return parseEnum(s, "us", "eu", "in") }

// AuthToken is a user's session token for the real-time connection and
// client calls.
type AuthToken struct {
	UID       string `json:"uid"`
	Token     string `json:"authToken"`
	Platform  string `json:"platform,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	AppInfo   string `json:"appInfo,omitempty"`
	CreatedAt int64  `json:"createdAt"`
	UpdatedAt int64  `json:"updatedAt,omitempty"`
}

// NewAuthTokenValue returns a token in CometChat's style: uid, '_', the
// creation time and 32 random hex characters.
func NewAuthTokenValue(uid string, now int64) string {
	return uid + "_" + strconv.FormatInt(now, 10) + RandomHex(16)
}
