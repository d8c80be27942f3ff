package botkit

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// apiServer records the requests it gets and answers with status and body.
type apiServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	path   string
	header http.Header
	body   map[string]any
	raw    string
}

func newAPIServer(t *testing.T, status int, answer string) *apiServer {
	t.Helper()
	a := &apiServer{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		a.mu.Lock()
		a.path, a.header, a.body, a.raw = r.Method+" "+r.URL.EscapedPath(), r.Header.Clone(), body, string(raw)
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

const createdAnswer = `{"data":{"id":"3001","muid":"reply-1042","conversationId":"alice_user_helpdesk-bot","sender":"helpdesk-bot",
	"receiverType":"user","receiver":"alice","category":"message","type":"text","data":{"text":"hi"},"sentAt":1763472105,"updatedAt":1763472105}}`

func TestReplyTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		to   Message
		want map[string]any
	}{
		{
			"1:1 goes to the sender",
			Message{ID: "1042", Sender: "alice", ReceiverType: "user", Receiver: "helpdesk-bot"},
			map[string]any{"receiver": "alice", "receiverType": "user", "category": "message", "type": "text",
				"data": map[string]any{"text": "hi"}, "muid": "reply-1042"},
		},
		{
			"group goes to the group",
			Message{ID: "2077", Sender: "bob", ReceiverType: "group", Receiver: "support"},
			map[string]any{"receiver": "support", "receiverType": "group", "category": "message", "type": "text",
				"data": map[string]any{"text": "hi"}, "muid": "reply-2077"},
		},
		{
			"upper-case receiver type",
			Message{ID: "5", Sender: "bob", ReceiverType: "GROUP", Receiver: "support"},
			map[string]any{"receiver": "support", "receiverType": "group", "category": "message", "type": "text",
				"data": map[string]any{"text": "hi"}, "muid": "reply-5"},
		},
		{
			"group thread stays in the thread",
			Message{ID: "2078", Sender: "bob", ReceiverType: "group", Receiver: "support", ParentID: "2001"},
			map[string]any{"receiver": "support", "receiverType": "group", "category": "message", "type": "text",
				"data": map[string]any{"text": "hi"}, "muid": "reply-2078", "parentId": "2001"},
		},
		{
			"1:1 thread stays in the thread",
			Message{ID: "7", Sender: "alice", ReceiverType: "user", Receiver: "helpdesk-bot", ParentID: "6"},
			map[string]any{"receiver": "alice", "receiverType": "user", "category": "message", "type": "text",
				"data": map[string]any{"text": "hi"}, "muid": "reply-7", "parentId": "6"},
		},
		{
			"no id, no muid",
			Message{Sender: "alice", ReceiverType: "user"},
			map[string]any{"receiver": "alice", "receiverType": "user", "category": "message", "type": "text",
				"data": map[string]any{"text": "hi"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPIServer(t, http.StatusOK, createdAnswer)
			c := &Client{BaseURL: a.srv.URL, AppID: "app1", APIKey: "key1"}
			msg, err := c.Reply(t.Context(), "helpdesk-bot", &tt.to, "hi")
			if err != nil {
				t.Fatal(err)
			}
			if msg.ID != "3001" || msg.Sender != "helpdesk-bot" || msg.Data.Text != "hi" {
				t.Errorf("returned message = %+v", msg)
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if !jsonEqual(a.body, tt.want) {
				t.Errorf("body = %s, want %v", a.raw, tt.want)
			}
			if a.path != "POST /v3/bots/helpdesk-bot/messages" {
				t.Errorf("request = %s", a.path)
			}
			if a.header.Get("appId") != "app1" || a.header.Get("apiKey") != "key1" ||
				a.header.Get("Content-Type") != "application/json" || a.header.Get("Accept") != "application/json" {
				t.Errorf("headers = %v", a.header)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestClientEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct{ base, uid, want string }{
		{"https://chat.example.com", "bot", "https://chat.example.com/v3/bots/bot/messages"},
		{"https://chat.example.com/", "bot", "https://chat.example.com/v3/bots/bot/messages"},
		{"https://app1.api-eu.cometchat.io/v3", "bot", "https://app1.api-eu.cometchat.io/v3/bots/bot/messages"},
		{"https://app1.api-eu.cometchat.io/v3/", "bot", "https://app1.api-eu.cometchat.io/v3/bots/bot/messages"},
		{"https://example.com/chat", "a b/c", "https://example.com/chat/v3/bots/a%20b%2Fc/messages"},
	}
	for _, tt := range tests {
		if got := (&Client{BaseURL: tt.base}).endpoint(tt.uid); got != tt.want {
			t.Errorf("endpoint(%q, %q) = %s, want %s", tt.base, tt.uid, got, tt.want)
		}
	}
}

func TestSendBodies(t *testing.T) {
	t.Parallel()
	custom := map[string]any{"receiver": "support", "receiverType": "group", "category": "custom", "type": "poll",
		"data": map[string]any{"customData": map[string]any{"question": "lunch?"}}}
	tests := []struct {
		name string
		body any
		want string
	}{
		{"map", custom, `{"category":"custom","data":{"customData":{"question":"lunch?"}},"receiver":"support","receiverType":"group","type":"poll"}`},
		{"raw message", json.RawMessage(`{"receiver":"alice"}`), `{"receiver":"alice"}`},
		{"bytes", []byte(`{"receiver":"bob"}`), `{"receiver":"bob"}`},
	}
	for _, tt := range tests {
		a := newAPIServer(t, http.StatusOK, createdAnswer)
		c := &Client{BaseURL: a.srv.URL, AppID: "app1", APIKey: "key1", HTTP: a.srv.Client()}
		if _, err := c.Send(t.Context(), "helpdesk-bot", tt.body); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		a.mu.Lock()
		got := a.raw
		a.mu.Unlock()
		if got != tt.want {
			t.Errorf("%s: sent %s, want %s", tt.name, got, tt.want)
		}
	}
	c := &Client{BaseURL: "http://127.0.0.1:1"}
	if _, err := c.Send(t.Context(), "bot", func() {}); err == nil || !strings.Contains(err.Error(), "encode") {
		t.Errorf("unencodable body: %v", err)
	}
	if _, err := c.Send(t.Context(), "", map[string]any{}); err == nil {
		t.Error("empty bot uid accepted")
	}
	if _, err := c.Reply(t.Context(), "bot", nil, "hi"); err == nil {
		t.Error("reply to nil accepted")
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		answer string
		want   APIError
	}{
		{"cometchat error", 404, `{"error":{"message":"The uid nobody does not exist.","devMessage":"x","source":"chat-api","code":"ERR_UID_NOT_FOUND"}}`,
			APIError{404, "ERR_UID_NOT_FOUND", "The uid nobody does not exist."}},
		{"validation", 400, `{"error":{"code":"ERR_EMPTY_MESSAGE_TEXT","message":"The text is required.","details":{"text":["required"]}}}`,
			APIError{400, "ERR_EMPTY_MESSAGE_TEXT", "The text is required."}},
		{"auth", 401, `{"error":{"code":"AUTH_ERR_APIKEY_NOT_FOUND","message":"Wrong key."}}`,
			APIError{401, "AUTH_ERR_APIKEY_NOT_FOUND", "Wrong key."}},
		{"not json", 502, "<html>Bad Gateway</html>", APIError{502, "", "<html>Bad Gateway</html>"}},
		{"empty", 503, "", APIError{503, "", "Service Unavailable"}},
		{"long text cut at a rune", 500, "a" + strings.Repeat("é", 150), APIError{500, "", "a" + strings.Repeat("é", 99) + "…"}},
		{"2xx without data", 200, `{"ok":true}`, APIError{}},
	}
	for _, tt := range tests {
		a := newAPIServer(t, tt.status, tt.answer)
		c := &Client{BaseURL: a.srv.URL, AppID: "app1", APIKey: "key1"}
		_, err := c.Reply(t.Context(), "bot", &Message{ID: "1", Sender: "alice", ReceiverType: "user"}, "hi")
		if tt.want.Status == 0 {
			var apiErr *APIError
			if err == nil || errors.As(err, &apiErr) {
				t.Errorf("%s: error = %v, want a decoding error", tt.name, err)
			}
			continue
		}
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("%s: error = %v, want *APIError", tt.name, err)
			continue
		}
		if *apiErr != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, *apiErr, tt.want)
		}
		if !strings.Contains(apiErr.Error(), tt.want.Message) {
			t.Errorf("%s: Error() = %q", tt.name, apiErr.Error())
		}
	}
}
