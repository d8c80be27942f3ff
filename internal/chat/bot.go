package chat

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// Group chat settings of a bot: which group messages it receives.
const (
	GroupChatAll       = "allMessages"
	GroupChatSlashed   = "slashedMessages"
	GroupChatMentioned = "mentionedMessages"
	GroupChatNone      = "none"
)

// Bot limits from CometChat's constraints.
const (
	MaxBotUIDLen     = 50
	MaxWebhookURLLen = 255
	MaxBotCredential = 50 // Basic auth username and password
)

// Bot is a user plus a callback URL. Password and signing secrets are
// write-only: they never appear in JSON except SigningSecret in the answer
// that creates or rotates it.
type Bot struct {
	UID              string `json:"uid"`
	WebhookURL       string `json:"webhookURL"`
	GroupChatSetting string `json:"groupChatSetting"`
	Enabled          bool   `json:"enabled,omitempty"`
	UseBasicAuth     bool   `json:"useBasicAuth,omitempty"`
	Username         string `json:"username,omitempty"`
	Password         string `json:"-"`
	// PasswordSet tells that a password is stored, without revealing it.
	PasswordSet bool  `json:"passwordSet,omitempty"`
	CreatedAt   int64 `json:"createdAt"`
	UpdatedAt   int64 `json:"updatedAt,omitempty"`

	// SigningSecret is shown once, when created or rotated.
	SigningSecret string `json:"signingSecret,omitempty"`
	// Secrets are the active signing secrets, newest first (two during a
	// rotation window). Never serialized.
	Secrets []string `json:"-"`
	// SecretRotatedAt is when the newest secret replaced the previous one.
	SecretRotatedAt int64 `json:"secretRotatedAt,omitempty"`

	// Per-bot overrides of the delivery limits; 0 means the server default.
	MaxInFlight    int `json:"maxInFlight,omitempty"`
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`

	Health *BotHealth `json:"health,omitempty"`
}

// BotHealth is the delivery state of a bot's endpoint.
type BotHealth struct {
	State            string `json:"state"` // healthy | failing | disabled
	Reason           string `json:"reason,omitempty"`
	ConsecutiveFails int    `json:"consecutiveFailures"`
	LastSuccessAt    int64  `json:"lastSuccessAt,omitempty"`
	LastFailureAt    int64  `json:"lastFailureAt,omitempty"`
	FailingSince     int64  `json:"failingSince,omitempty"`
	NextProbeAt      int64  `json:"nextProbeAt,omitempty"`
	Pending          int    `json:"pendingDeliveries"`
}

// Bot health states.
const (
	HealthHealthy  = "healthy"
	HealthFailing  = "failing"
	HealthDisabled = "disabled" // the endpoint answered 410 Gone
)

// ParseGroupChatSetting returns the canonical setting, case-insensitively.
func ParseGroupChatSetting(s string) (string, bool) {
	return parseEnum(s, GroupChatAll, GroupChatSlashed, GroupChatMentioned, GroupChatNone)
}

// ValidateWebhookURL checks a callback URL: absolute http(s), at most 255
// characters, no credentials in it. plainHTTPAllowed tells whether the host
// is in an operator-allowed range where http is accepted; elsewhere https is
// required.
func ValidateWebhookURL(v *Validation, raw string, plainHTTPAllowed func(host string) bool) {
	const field = "webhookURL"
	switch {
	case raw == "":
		v.Add(field, "The webhookURL field is required.")
		return
	case len(raw) > MaxWebhookURLLen:
		v.Add(field, "The webhookURL may not be greater than %d characters.", MaxWebhookURLLen)
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" || !u.IsAbs() {
		v.Add(field, "The webhookURL must be an absolute URL such as https://bots.example.org/hook.")
		return
	}
	if u.User != nil {
		v.Add(field, "The webhookURL may not contain credentials; use useBasicAuth, username and password.")
		return
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if plainHTTPAllowed == nil || !plainHTTPAllowed(u.Hostname()) {
			v.Add(field, "The webhookURL must use https; plain http is accepted only for hosts in the ranges the operator allowed (--webhook-allow).")
		}
	default:
		v.Add(field, "The webhookURL must use https.")
	}
}

// ValidateBotCredential checks a Basic auth username or password.
func ValidateBotCredential(v *Validation, field, s string) {
	if utf8.RuneCountInString(s) > MaxBotCredential {
		v.Add(field, "The %s may not be greater than %d characters.", field, MaxBotCredential)
	}
	if field == "username" && strings.ContainsRune(s, ':') {
		v.Add(field, "The username may not contain ':' (HTTP Basic authentication).")
	}
}

// RelayCandidate is a bot that might receive a message: the receiver of a
// 1:1 message, or a bot member of the group.
type RelayCandidate struct {
	UID              string
	Enabled          bool
	GroupChatSetting string
}

// DefaultHopLimit bounds bot-to-bot chains: a human's message is hop 0, a
// bot's message written after receiving a hop-n message is hop n+1, and
// messages at hop >= the limit are not relayed. With 3, two bots that
// answer each other stop after three bot messages.
const DefaultHopLimit = 3

// RelayTargets returns the uids of the bots that must receive m
// (docs/decisions/relay-rules.md):
//   - only user content (message, custom, interactive), never actions;
//   - never to the sender itself, never to a disabled bot;
//   - nothing at or beyond the hop limit;
//   - 1:1: the receiver, when it is a bot;
//   - group: member bots by groupChatSetting: allMessages; slashedMessages
//     when the text starts with '/' after leading white space;
//     mentionedMessages when the text mentions the bot (<@uid:BOT>); none.
//
// candidates must already be the receiver (1:1) or the group's member bots.
func RelayTargets(m *Message, candidates []RelayCandidate, hopLimit int) []string {
	if !m.IsUserContent() || m.Hop >= hopLimit || m.DeletedAt != 0 {
		return nil
	}
	var out []string
	for _, b := range candidates {
		if !b.Enabled || b.UID == m.Sender {
			continue
		}
		if m.ReceiverType == ReceiverUser {
			if b.UID == m.Receiver {
				out = append(out, b.UID)
			}
			continue
		}
		if groupSettingMatches(b, m) {
			out = append(out, b.UID)
		}
	}
	return out
}

func groupSettingMatches(b RelayCandidate, m *Message) bool {
	switch b.GroupChatSetting {
	case GroupChatAll:
		return true
	case GroupChatSlashed:
		return strings.HasPrefix(strings.TrimLeft(m.Data.Text, " \t\r\n"), "/")
	case GroupChatMentioned:
		for _, uid := range m.Mentions {
			if uid == b.UID {
				return true
			}
		}
	}
	return false
}
