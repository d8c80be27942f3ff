package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// recorder is a bot endpoint that records every callback.
type recorder struct {
	mu   sync.Mutex
	got  []callback
	seen map[string]int // webhook-id -> times received
}

type callback struct {
	webhookID string
	sender    string
	text      string
}

// readCallback reads a callback's message sender and text.
func readCallback(r *http.Request) (sender, text string) {
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Data struct {
			Sender string `json:"sender"`
			Data   struct {
				Text string `json:"text"`
			} `json:"data"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Data.Sender, p.Data.Data.Text
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sender, text := readCallback(r)
	rec.mu.Lock()
	rec.got = append(rec.got, callback{r.Header.Get("webhook-id"), sender, text})
	rec.seen[r.Header.Get("webhook-id")]++
	rec.mu.Unlock()
	w.WriteHeader(200)
}

// TestKill9KeepsDeliveries: messages to a bot whose endpoint is down are
// acknowledged, the server is killed with SIGKILL and restarted, the
// endpoint comes up: every message arrives, in order per conversation,
// and any duplicate carries the same webhook-id.
func TestKill9KeepsDeliveries(t *testing.T) {
	t.Parallel()
	// Reserve a loopback port for the endpoint, and keep it closed for now.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := l.Addr().String()
	l.Close()

	db := testDB(t)
	p := startBinary(t, db, "--webhook-allow", "127.0.0.0/8")
	appID, key := p.keys(t)
	must := func(base, path, body string, h ...string) {
		t.Helper()
		code, b, err := request("POST", base, appID, key, path, body, h...)
		if err != nil {
			t.Fatal(err)
		}
		if code != 200 {
			t.Fatalf("POST %s: %d %s", path, code, b)
		}
	}
	must(p.base, "/v3/users", `{"uid":"helper","name":"Helper"}`)
	must(p.base, "/v3/bots", `{"uid":"helper","webhookURL":"http://`+endpoint+`/hook","enabled":true}`)
	senders := []string{"ann", "ben", "cat"}
	for _, u := range senders {
		must(p.base, "/v3/users", `{"uid":"`+u+`","name":"U"}`)
	}
	const perSender = 30
	var wg sync.WaitGroup
	for _, u := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				must(p.base, "/v3/messages", fmt.Sprintf(`{"receiver":"helper","receiverType":"user","data":{"text":"%s-%03d"}}`, u, i), "onBehalfOf", u)
			}
		}()
	}
	wg.Wait()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()

	p = startBinary(t, db, "--webhook-allow", "127.0.0.0/8")
	rec := &recorder{seen: map[string]int{}}
	ln, err := net.Listen("tcp", endpoint)
	if err != nil {
		t.Fatalf("the endpoint's port was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: rec}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })

	deadline := time.Now().Add(90 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.seen)
		rec.mu.Unlock()
		if n == len(senders)*perSender {
			break
		}
		if time.Now().After(deadline) {
			// What the server knows, to tell a stuck queue from a slow one.
			_, bot, _ := request("GET", p.base, appID, key, "/v3/bots/helper", "")
			_, ds, _ := request("GET", p.base, appID, key, "/v3/bots/helper/deliveries?perPage=5", "")
			log := p.stderr.String()
			t.Fatalf("only %d of %d messages arrived after the restart\nbot: %s\ndeliveries: %s\nserver log (end): %s",
				n, len(senders)*perSender, bot, ds, log[max(0, len(log)-4000):])
		}
		time.Sleep(50 * time.Millisecond) // waiting for the engine's retries; bounded
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	next := map[string]int{} // per sender: the next index expected
	texts := map[string]string{}
	for _, c := range rec.got {
		if prev, ok := texts[c.webhookID]; ok && prev != c.text {
			t.Fatalf("webhook-id %s used for %q and %q", c.webhookID, prev, c.text)
		}
		texts[c.webhookID] = c.text
		var i int
		fmt.Sscanf(c.text[len(c.sender)+1:], "%d", &i)
		switch {
		case i == next[c.sender]:
			next[c.sender]++
		case i < next[c.sender]:
			// A duplicate of an earlier delivery (at least once): it has the
			// same webhook-id, checked above.
		default:
			t.Fatalf("%s: got %s before %s-%03d", c.sender, c.text, c.sender, next[c.sender])
		}
	}
	t.Logf("%d callbacks for %d messages", len(rec.got), len(rec.seen))
}
