package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// api is a minimal REST client of the target (or of the forwarder, which
// takes the same send requests).
type api struct {
	base   string // http://host:port
	appID  string
	key    string
	client *http.Client
}

// apiError is a non-2xx answer.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("status %d: %s", e.status, strings.TrimSpace(e.body))
}

// do sends a request and returns the answer's body on 2xx.
func (a *api) do(ctx context.Context, method, path, onBehalfOf string, body []byte, extra http.Header) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	h := req.Header
	h["Appid"] = []string{a.appID} // canonical forms, set without canonicalizing each time
	h["Apikey"] = []string{a.key}
	h["Content-Type"] = []string{"application/json"}
	if onBehalfOf != "" {
		h["Onbehalfof"] = []string{onBehalfOf}
	}
	for k, v := range extra {
		h[k] = v
	}
	res, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode/100 != 2 {
		return nil, &apiError{status: res.StatusCode, body: string(out[:min(len(out), 300)])}
	}
	return out, nil
}

func (a *api) post(ctx context.Context, path, onBehalfOf string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return a.do(ctx, http.MethodPost, path, onBehalfOf, b, nil)
}

// sendText sends a text message as from to a user or group. bot is the
// index of the bot it is meant for (the forwarder's route), or -1.
func (a *api) sendText(ctx context.Context, from, receiver, receiverType, text string, bot int) error {
	// Built by hand: the bench's own JSON encoding should cost as little
	// of the shared CPU as possible. Every part is a plain id or marker.
	body := make([]byte, 0, 128)
	body = append(body, `{"receiver":"`...)
	body = append(body, receiver...)
	body = append(body, `","receiverType":"`...)
	body = append(body, receiverType...)
	body = append(body, `","data":{"text":"`...)
	body = append(body, text...)
	body = append(body, `"}}`...)
	var extra http.Header
	if bot >= 0 {
		extra = http.Header{headerBot: {strconv.Itoa(bot)}}
	}
	_, err := a.do(ctx, http.MethodPost, "/v3/messages", from, body, extra)
	return err
}

// createUser creates a user and returns its auth token (when token).
func (a *api) createUser(ctx context.Context, uid string, token bool) (string, error) {
	out, err := a.post(ctx, "/v3/users", "", map[string]any{"uid": uid, "name": uid, "withAuthToken": token})
	if err != nil {
		return "", fmt.Errorf("create user %s: %w", uid, err)
	}
	if !token {
		return "", nil
	}
	var r struct {
		Data struct {
			AuthToken string `json:"authToken"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Data.AuthToken == "" {
		return "", fmt.Errorf("create user %s: no auth token in %s", uid, out)
	}
	return r.Data.AuthToken, nil
}

// createBot makes an existing user an enabled bot calling url.
func (a *api) createBot(ctx context.Context, uid, url string) error {
	if _, err := a.post(ctx, "/v3/bots", "", map[string]any{"uid": uid, "webhookURL": url, "enabled": true}); err != nil {
		return fmt.Errorf("create bot %s: %w", uid, err)
	}
	return nil
}

// deleteBot deletes a bot and its delivery log.
func (a *api) deleteBot(ctx context.Context, uid string) error {
	if _, err := a.do(ctx, http.MethodDelete, "/v3/bots/"+uid, "", nil, nil); err != nil {
		return fmt.Errorf("delete bot %s: %w", uid, err)
	}
	return nil
}

// botSay sends a text message as a bot to a user.
func (a *api) botSay(ctx context.Context, bot, to, text string) error {
	body := `{"receiver":"` + to + `","receiverType":"user","data":{"text":"` + text + `"}}`
	_, err := a.do(ctx, http.MethodPost, "/v3/bots/"+bot+"/messages", "", []byte(body), nil)
	return err
}

// membersPerCall is the API's limit of uids per add-members call.
const membersPerCall = 25

// createGroup creates a public group owned by owner with the members.
func (a *api) createGroup(ctx context.Context, guid, owner string, members []string) error {
	if _, err := a.post(ctx, "/v3/groups", owner, map[string]any{"guid": guid, "name": guid, "type": "public"}); err != nil {
		return fmt.Errorf("create group %s: %w", guid, err)
	}
	var rest []string
	for _, m := range members {
		if m != owner {
			rest = append(rest, m)
		}
	}
	return parallel(ctx, 8, (len(rest)+membersPerCall-1)/membersPerCall, func(ctx context.Context, i int) error {
		chunk := rest[i*membersPerCall : min(len(rest), (i+1)*membersPerCall)]
		if _, err := a.post(ctx, "/v3/groups/"+guid+"/members", "", map[string]any{"participants": chunk}); err != nil {
			return fmt.Errorf("add members to %s: %w", guid, err)
		}
		return nil
	})
}

// parallel runs fn(0..n-1) on up to workers goroutines and returns the
// first error; after an error no new call starts.
func parallel(parent context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if first != nil || next >= n || ctx.Err() != nil {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = parent.Err()
	}
	return first
}
