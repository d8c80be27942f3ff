package chat

import "encoding/json"

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// Delivery kinds.
const (
	DeliveryKindMessage = "message" // a relayed message
	DeliveryKindTest    = "test"    // POST /v3/bots/{uid}/test
)

// Delivery is one message's delivery to one bot, as the delivery log shows
// it. Times are Unix milliseconds: the engine schedules in milliseconds.
type Delivery struct {
	ID             int64           `json:"id"`
	Bot            string          `json:"bot"`
	MessageID      int64           `json:"messageId,string"`
	ConversationID string          `json:"conversationId"`
	Kind           string          `json:"kind"`
	Seq            int64           `json:"sequence"`
	WebhookID      string          `json:"webhookId"`
	State          string          `json:"state"`
	Attempts       int             `json:"attempts"`
	NextAttemptAt  int64           `json:"nextAttemptAt,omitempty"`
	LastStatus     int             `json:"lastStatus,omitempty"`
	LastErrorClass string          `json:"lastErrorClass,omitempty"`
	LastError      string          `json:"lastError,omitempty"`
	ReplyMessageID int64           `json:"replyMessageId,omitempty,string"`
	CreatedAt      int64           `json:"createdAt"`
	CompletedAt    int64           `json:"completedAt,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	AttemptLog     []Attempt       `json:"attemptLog,omitempty"`

	// Engine-only fields.
	AppID     string `json:"-"`
	Hop       int    `json:"-"`
	ParentID  int64  `json:"-"`
	QueuedAt  int64  `json:"-"` // ms: when it entered the queue (again); the retry window starts here
	LeaseTill int64  `json:"-"`
	Head      bool   `json:"-"` // queued first in its lane: nothing before it waits (set by the insert)
}

// Attempt is one HTTP attempt of a delivery.
type Attempt struct {
	N                 int               `json:"attempt"`
	StartedAt         int64             `json:"startedAt"`
	LatencyMs         int64             `json:"latencyMs"`
	StatusCode        int               `json:"statusCode,omitempty"`
	ErrorClass        string            `json:"errorClass,omitempty"`
	Error             string            `json:"error,omitempty"`
	RequestHeaders    map[string]string `json:"requestHeaders,omitempty"`
	ResponseBody      string            `json:"responseBody,omitempty"`
	ResponseTruncated bool              `json:"responseTruncated,omitempty"`
	NextAttemptAt     int64             `json:"nextAttemptAt,omitempty"`
}

// ParseDeliveryState returns the canonical state, case-insensitively.
func ParseDeliveryState(s string) (string, bool) {
	return parseEnum(s, DeliveryPending, DeliverySucceeded, DeliveryFailed)
}
