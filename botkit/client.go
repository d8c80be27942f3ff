package botkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits of Client.
const (
	// defaultClientTimeout bounds a whole API call when Client.HTTP is nil.
	// A call that takes longer fails; the bot decides whether to retry.
	defaultClientTimeout = 30 * time.Second

	// maxResponseBytes bounds the API response read. A bigger success
	// response fails to decode; a bigger error response keeps its status.
	maxResponseBytes = 1 << 20

	// maxErrorText bounds the part of a non-JSON error body kept in
	// APIError.Message.
	maxErrorText = 200
)

// Client calls parley's (or CometChat's) REST API as a bot.
type Client struct {
	// BaseURL is the API's base URL, e.g. "https://chat.example.com" or
	// "https://APPID.api-REGION.cometchat.io". "/v3" is appended unless
	// BaseURL already ends with it.
	BaseURL string
	// AppID and APIKey are sent as the appId and apiKey headers. The key
	// needs full access.
	AppID, APIKey string
	// HTTP is the client used for calls. Nil means a client with a 30s
	// timeout over http.DefaultTransport.
	HTTP *http.Client
}

// APIError is an error answer of the API: its HTTP status and CometChat's
// error code and message ({"error": {"code": ..., "message": ...}}).
type APIError struct {
	Status  int
	Code    string // e.g. "ERR_UID_NOT_FOUND"; empty when the body had none
	Message string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("botkit: API answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("botkit: API answered %d %s: %s", e.Status, e.Code, e.Message)
}

// outgoing is the body of a text reply.
type outgoing struct {
	Receiver     string       `json:"receiver"`
	ReceiverType string       `json:"receiverType"`
	Category     string       `json:"category"`
	Type         string       `json:"type"`
	Data         outgoingData `json:"data"`
	MUID         string       `json:"muid,omitempty"`
	ParentID     string       `json:"parentId,omitempty"`
}

type outgoingData struct {
	Text string `json:"text"`
}

// Reply sends text as botUID in answer to the message to: a 1:1 message is
// answered to its sender, a group message to its group, and a message in a
// thread inside the same thread. The muid is "reply-" + to.ID, so the bot
// can recognise its reply when it comes back to it. It returns the created
// message.
func (c *Client) Reply(ctx context.Context, botUID string, to *Message, text string) (*Message, error) {
	if to == nil {
		return nil, errors.New("botkit: Reply: no message to reply to")
	}
	body := outgoing{
		Receiver:     to.Sender,
		ReceiverType: ReceiverUser,
		Category:     "message",
		Type:         "text",
		Data:         outgoingData{Text: text},
		ParentID:     to.ParentID,
	}
	if to.IsGroup() {
		body.Receiver, body.ReceiverType = to.Receiver, ReceiverGroup
	}
	if to.ID != "" {
		body.MUID = "reply-" + to.ID
	}
	return c.Send(ctx, botUID, body)
}

// Send posts body (any JSON-encodable value; a []byte or json.RawMessage is
// sent as is) to POST /v3/bots/{botUID}/messages and returns the created
// message. An error answer is returned as *APIError.
func (c *Client) Send(ctx context.Context, botUID string, body any) (*Message, error) {
	if botUID == "" {
		return nil, errors.New("botkit: Send: empty bot uid")
	}
	var payload []byte
	switch b := body.(type) {
	case []byte:
		payload = b
	case json.RawMessage:
		payload = b
	default:
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("botkit: encode message: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(botUID), bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("botkit: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("appId", c.AppID)
	req.Header.Set("apiKey", c.APIKey)

	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: defaultClientTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("botkit: send message: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("botkit: read response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeAPIError(resp.StatusCode, raw)
	}
	var env struct {
		Data *Message `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Data == nil {
		return nil, fmt.Errorf("botkit: response %d is not {\"data\": message}", resp.StatusCode)
	}
	return env.Data, nil
}

func (c *Client) endpoint(botUID string) string {
	base := strings.TrimRight(c.BaseURL, "/")
	if !strings.HasSuffix(base, "/v3") {
		base += "/v3"
	}
	return base + "/bots/" + url.PathEscape(botUID) + "/messages"
}

func decodeAPIError(status int, raw []byte) *APIError {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &APIError{Status: status}
	if json.Unmarshal(raw, &env) == nil && (env.Error.Code != "" || env.Error.Message != "") {
		e.Code, e.Message = env.Error.Code, env.Error.Message
		return e
	}
	text := strings.TrimSpace(string(raw))
	if len(text) > maxErrorText {
		text = strings.ToValidUTF8(text[:maxErrorText], "") + "…"
	}
	if text == "" {
		text = http.StatusText(status)
	}
	e.Message = text
	return e
}
