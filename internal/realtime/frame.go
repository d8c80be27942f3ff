package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"

	"parley/internal/chat"
)

// Frame types the hub itself sends or understands. Other types published by
// the app layer ("message", "message_edited", ...) are opaque to the hub.
const (
	typeConnected = "connected"
	typeMessage   = "message"
	typePing      = "ping"
	typePong      = "pong"
	typeAck       = "ack"
	typeError     = "error"
)

// Error codes of error frames that the hub produces itself. Sender errors
// carry their own *chat.Error code.
const (
	codeBadRequest = "ERR_BAD_REQUEST"
	codeInternal   = "ERR_MISSION_FAILED"
	msgInternal    = "internal error"
)

// Encode builds a server frame {"type": typ, "data": data}.
func Encode(typ string, data any) ([]byte, error) {
	b, err := chat.Marshal(outFrame{Type: typ, Data: data})
	if err != nil {
		return nil, fmt.Errorf("realtime: encode %q frame: %w", typ, err)
	}
	return b, nil
}

// outFrame is every frame the server writes. Data is always present (null
// when nil) so that clients can rely on the key; ID and Error only on replies.
type outFrame struct {
	Type  string      `json:"type"`
	ID    string      `json:"id,omitempty"`
	Data  any         `json:"data"`
	Error *frameError `json:"error,omitempty"`
}

// replyFrame is a reply to one client frame: like outFrame but without a
// data key on pong and error replies.
type replyFrame struct {
	Type  string      `json:"type"`
	ID    string      `json:"id,omitempty"`
	Data  any         `json:"data,omitempty"`
	Error *frameError `json:"error,omitempty"`
}

type frameError struct {
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Details map[string][]string `json:"details,omitempty"`
}

type connectedData struct {
	UID   string `json:"uid"`
	AppID string `json:"appId"`
}

// clientFrame is a frame a client sent, after parseClientFrame accepted it.
type clientFrame struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// parseClientFrame decodes and validates one text frame from a client. On
// error it returns the id when the frame was well-formed enough to carry
// one, so that the client can match the error to its request.
func parseClientFrame(b []byte) (clientFrame, *chat.Error) {
	var f clientFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return clientFrame{}, chat.Errorf(chat.KindInvalid, codeBadRequest, "The frame is not a JSON object of the form {\"type\", \"id\", \"data\"}.")
	}
	switch f.Type {
	case typePing:
		return f, nil
	case typeMessage:
		d := bytes.TrimSpace(f.Data)
		if len(d) == 0 || d[0] != '{' {
			return f, chat.Errorf(chat.KindInvalid, codeBadRequest, "A message frame needs a JSON object in \"data\".")
		}
		f.Data = d
		return f, nil
	case "":
		return f, chat.Errorf(chat.KindInvalid, codeBadRequest, "The frame has no \"type\".")
	default:
		return f, chat.Errorf(chat.KindInvalid, codeBadRequest, "Unknown frame type.")
	}
}

// ackReply builds the reply to a message frame that the Sender accepted.
func ackReply(id string, msg any) ([]byte, error) {
	b, err := chat.Marshal(outFrame{Type: typeAck, ID: id, Data: msg})
	if err != nil {
		return nil, fmt.Errorf("realtime: encode ack: %w", err)
	}
	return b, nil
}

// errSendDisabled is the reply to a message frame when the hub has no Sender.
func errSendDisabled() error {
	return chat.Errorf(chat.KindInvalid, codeBadRequest, "Sending messages over the socket is not enabled.")
}

// isUserError reports whether err carries a code and message meant for the
// client; other errors are internal and only logged.
func isUserError(err error) bool {
	ce := chat.AsError(err)
	return ce != nil && ce.Kind != chat.KindInternal
}

// errorReply builds the error frame for a failed client request. Only a
// *chat.Error of a non-internal kind shows its code and message; anything
// else becomes a generic internal error (the caller logs the cause).
func errorReply(id string, err error) []byte {
	fe := &frameError{Code: codeInternal, Message: msgInternal}
	if isUserError(err) {
		ce := chat.AsError(err)
		fe = &frameError{Code: ce.Code, Message: ce.Message, Details: ce.Details}
	}
	return mustMarshal(replyFrame{Type: typeError, ID: id, Error: fe})
}

// mustMarshal marshals frames built only from strings and string maps,
// which cannot fail.
func mustMarshal(v any) []byte {
	b, err := chat.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("realtime: marshal %T: %v", v, err))
	}
	return b
}
