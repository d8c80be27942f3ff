package chat

// Receipt types.
const (
	ReceiptRead      = "read"
	ReceiptDelivered = "delivered"
)

// Conversation is a user's view of a 1:1 or group conversation, in
// CometChat's JSON shape. unreadMessageCount is a string of digits, as
// CometChat's spec has it (docs/decisions/unread-and-receipts.md).
type Conversation struct {
	ConversationID   string   `json:"conversationId"`
	ConversationType string   `json:"conversationType"`
	UnreadCount      int      `json:"unreadMessageCount,string"`
	LastMessage      *Message `json:"lastMessage,omitempty"`
	// ConversationWith is the peer *User or the *Group, with per-viewer
	// fields.
	ConversationWith any      `json:"conversationWith"`
	CreatedAt        int64    `json:"createdAt"`
	UpdatedAt        int64    `json:"updatedAt"`
	Tags             []string `json:"tags,omitempty"`
}

// Receipt is the data of a receipt event: uid has read (or received) every
// message of the conversation up to messageId.
type Receipt struct {
	ConversationID string `json:"conversationId"`
	UID            string `json:"uid"`
	ReceiptType    string `json:"receiptType"`
	MessageID      int64  `json:"messageId,string"`
	At             int64  `json:"at"`
}
