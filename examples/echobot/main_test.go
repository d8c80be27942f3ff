package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/botkit"
	"parley/internal/config"
	"parley/internal/server"
	"parley/internal/store/storetest"
)

// TestEchoBotEndToEnd runs parley and the echo bot: a user's message comes
// back as the bot's reply on the user's WebSocket.
func TestEchoBotEndToEnd(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	srv, err := server.Open(t.Context(), config.Serve{Addr: "127.0.0.1:0", DB: storetest.URL(t, storetest.Engine(t)), WebhookAllow: "127.0.0.0/8"}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() { cancel(); <-done }()
	base, appID, key := "http://"+srv.Addr(), srv.FirstApp.App.ID, srv.FirstApp.RESTAPIKey

	call := func(path string, body any, hdr ...string) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(b))
		req.Header.Set("appId", appID)
		req.Header.Set("apiKey", key)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var out struct {
			Data map[string]any `json:"data"`
		}
		if res.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
			t.Fatalf("POST %s: %d %s", path, res.StatusCode, raw)
		}
		return out.Data
	}
	call("/v3/users", map[string]any{"uid": "echo", "name": "Echo"})
	alice := call("/v3/users", map[string]any{"uid": "alice", "name": "Alice", "withAuthToken": true})

	// The bot's endpoint, with Basic auth and its signing secret.
	var h *botkit.Handler
	botSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer botSrv.Close()
	bot := call("/v3/bots", map[string]any{"uid": "echo", "webhookURL": botSrv.URL, "enabled": true,
		"useBasicAuth": true, "username": "parley", "password": "pw"})
	h = newHandler(settings{BaseURL: base, AppID: appID, APIKey: key, Secret: bot["signingSecret"].(string), Username: "parley", Password: "pw"}, log)
	defer h.Shutdown(context.Background()) //nolint:errcheck

	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/v3/ws?appId=" + appID + "&authToken=" + alice["authToken"].(string)
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	conn, _, err := websocket.Dial(dctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()

	call("/v3/messages", map[string]any{"receiver": "echo", "receiverType": "user", "data": map[string]any{"text": "hello bot"}}, "onBehalfOf", "alice")
	for {
		_, b, err := conn.Read(dctx)
		if err != nil {
			t.Fatalf("no reply from the echo bot: %v", err)
		}
		var f struct {
			Type string `json:"type"`
			Data struct {
				Sender string `json:"sender"`
				Data   struct {
					Text string `json:"text"`
				} `json:"data"`
			} `json:"data"`
		}
		_ = json.Unmarshal(b, &f)
		if f.Type == "message" && f.Data.Sender == "echo" {
			if f.Data.Data.Text != "you said: hello bot" {
				t.Fatalf("reply %q", f.Data.Data.Text)
			}
			return
		}
	}
}
