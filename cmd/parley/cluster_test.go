package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/internal/store/storetest"
)

// TestCluster runs three `parley serve` processes on one PostgreSQL
// database. Users send messages to three bots (one to one) and to a group
// with the bots and WebSocket watchers, through all three nodes in turn;
// one node is killed with SIGKILL half-way and the rest goes through the
// survivors. Every acknowledged message reaches every bot it should, in
// order per conversation, duplicates only with the same webhook-id, and
// every watcher on a surviving node receives every acknowledged group
// message.
func TestCluster(t *testing.T) {
	db := storetest.URL(t, storetest.Postgres) // skipped without PARLEY_TEST_POSTGRES
	// A short lease past the bots' 2 s timeout: the killed node's leased
	// deliveries are taken over within seconds.
	t.Setenv("PARLEY_DELIVERY_LEASE", "2s")
	const (
		nodes     = 3
		killed    = 1
		perSender = 40
	)
	args := []string{"--webhook-allow", "127.0.0.0/8"}
	procs := []*proc{startBinary(t, db, args...)}
	appID, key := procs[0].keys(t)
	for range nodes - 1 {
		procs = append(procs, startBinary(t, db, args...))
	}
	must := func(p *proc, path, body string, h ...string) []byte {
		t.Helper()
		code, b, err := request("POST", p.base, appID, key, path, body, h...)
		if err != nil || code != 200 {
			t.Fatalf("POST %s: %d %s %v", path, code, b, err)
		}
		return b
	}
	for _, p := range procs {
		if code, _, err := request("GET", p.base, "", "", "/readyz", ""); err != nil || code != 200 {
			t.Fatalf("readyz: %d %v", code, err)
		}
	}

	// Bots: one recording endpoint each, answering after a short delay so
	// that attempts are in flight when the node dies.
	bots := []string{"bot0", "bot1", "bot2"}
	recs := map[string]*recorder{}
	for i, b := range bots {
		rec := &recorder{seen: map[string]int{}}
		recs[b] = rec
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(20 * time.Millisecond) // a bot doing some work
			rec.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		p := procs[i%nodes]
		must(p, "/v3/users", `{"uid":"`+b+`","name":"Bot"}`)
		must(p, "/v3/bots", `{"uid":"`+b+`","webhookURL":"`+srv.URL+`/hook","enabled":true,"groupChatSetting":"allMessages","timeoutSeconds":2}`)
	}
	senders := []string{"ann", "ben", "cat"}
	for _, u := range senders {
		must(procs[0], "/v3/users", `{"uid":"`+u+`","name":"U"}`)
	}
	// Watchers: two per node, members of the group.
	type watcher struct {
		uid  string
		node int
		mu   sync.Mutex
		got  map[string]bool // texts of message frames
	}
	var watchers []*watcher
	tokens := map[string]string{}
	for n := range nodes {
		for j := range 2 {
			uid := fmt.Sprintf("w%d%d", n, j)
			b := must(procs[0], "/v3/users", `{"uid":"`+uid+`","name":"W","withAuthToken":true}`)
			var r struct {
				Data struct {
					AuthToken string `json:"authToken"`
				} `json:"data"`
			}
			if err := json.Unmarshal(b, &r); err != nil || r.Data.AuthToken == "" {
				t.Fatalf("token of %s: %s", uid, b)
			}
			tokens[uid] = r.Data.AuthToken
			watchers = append(watchers, &watcher{uid: uid, node: n, got: map[string]bool{}})
		}
	}
	members := append(append([]string{}, senders...), bots...)
	for _, w := range watchers {
		members = append(members, w.uid)
	}
	must(procs[0], "/v3/groups", `{"guid":"team","name":"Team","type":"public"}`)
	pj, _ := json.Marshal(members)
	must(procs[0], "/v3/groups/team/members", `{"participants":`+string(pj)+`}`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var readers sync.WaitGroup
	defer readers.Wait()
	defer cancel()
	for _, w := range watchers {
		u := "ws" + strings.TrimPrefix(procs[w.node].base, "http") + "/v3/ws?appId=" + appID + "&authToken=" + tokens[w.uid]
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		c, _, err := websocket.Dial(dctx, u, nil)
		dcancel()
		if err != nil {
			t.Fatalf("dial %s: %v", w.uid, err)
		}
		c.SetReadLimit(1 << 20)
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer c.CloseNow()
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					return
				}
				var f struct {
					Type string `json:"type"`
					Data struct {
						Data struct {
							Text string `json:"text"`
						} `json:"data"`
					} `json:"data"`
				}
				if json.Unmarshal(b, &f) == nil && f.Type == "message" {
					w.mu.Lock()
					w.got[f.Data.Data.Text] = true
					w.mu.Unlock()
				}
			}
		}()
	}
	// Wait until every watcher is connected: a group message now reaches
	// all of them.
	waitFor(t, 10*time.Second, "watchers connected", func() bool {
		must(procs[0], "/v3/messages", `{"receiver":"team","receiverType":"group","data":{"text":"hello"}}`, "onBehalfOf", "ann")
		for _, w := range watchers {
			w.mu.Lock()
			ok := w.got["hello"]
			w.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})

	// Send: each sender alternates between a bot (one to one) and the
	// group, through the nodes in turn, skipping the killed one.
	var dead atomic.Bool
	type sent struct {
		text, to string // to: a bot uid or "team"
	}
	var mu sync.Mutex
	var acked []sent
	var wg sync.WaitGroup
	half := make(chan struct{})
	var halfOnce sync.Once
	var count atomic.Int64
	start := time.Now()
	for si, u := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				text := fmt.Sprintf("%s-%03d", u, i)
				to, typ := bots[(si+i/2)%len(bots)], "user"
				if i%2 == 1 {
					to, typ = "team", "group"
				}
				n := (si + i) % nodes
				if n == killed && dead.Load() {
					n = (n + 1) % nodes
				}
				code, _, err := request("POST", procs[n].base, appID, key, "/v3/messages",
					fmt.Sprintf(`{"receiver":"%s","receiverType":"%s","data":{"text":"%s"}}`, to, typ, text), "onBehalfOf", u)
				if err == nil && code == 200 {
					mu.Lock()
					acked = append(acked, sent{text, to})
					mu.Unlock()
				}
				if count.Add(1) == int64(len(senders)*perSender/2) {
					halfOnce.Do(func() { close(half) })
				}
			}
		}()
	}
	<-half
	dead.Store(true)
	if err := procs[killed].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	wg.Wait()
	sentFor := time.Since(start)

	// Expected callbacks: per bot, the texts it must receive.
	want := map[string]map[string]bool{}
	for _, b := range bots {
		want[b] = map[string]bool{}
	}
	var groupTexts []string
	for _, s := range acked {
		if s.to == "team" {
			groupTexts = append(groupTexts, s.text)
			for _, b := range bots {
				want[b][s.text] = true
			}
		} else {
			want[s.to][s.text] = true
		}
	}
	missing := func() int {
		n := 0
		for _, b := range bots {
			rec := recs[b]
			rec.mu.Lock()
			got := map[string]bool{}
			for _, c := range rec.got {
				got[c.text] = true
			}
			rec.mu.Unlock()
			for text := range want[b] {
				if !got[text] {
					n++
				}
			}
		}
		return n
	}
	waitFor(t, 90*time.Second, "every acknowledged message delivered to its bots", func() bool { return missing() == 0 })
	allDelivered := time.Since(killedAt)

	// Order per conversation and sender; duplicates carry the webhook-id
	// of the first delivery.
	callbacks, dups := 0, 0
	for _, b := range bots {
		rec := recs[b]
		rec.mu.Lock()
		texts := map[string]string{} // webhook-id -> text
		last := map[string]int{}     // sender -> last index seen, per conversation kind
		for _, c := range rec.got {
			callbacks++
			if c.text == "hello" {
				continue
			}
			if prev, ok := texts[c.webhookID]; ok {
				if prev != c.text {
					t.Errorf("%s: webhook-id %s used for %q and %q", b, c.webhookID, prev, c.text)
				}
				dups++
				continue
			}
			texts[c.webhookID] = c.text
			var i int
			fmt.Sscanf(c.text[len(c.sender)+1:], "%d", &i)
			lane := c.sender + "/" + fmt.Sprint(i%2) // odd: the group, even: one to one
			if l, ok := last[lane]; ok && i <= l {
				t.Errorf("%s: %s arrived after %s-%03d with a new webhook-id", b, c.text, c.sender, l)
			}
			last[lane] = i
		}
		rec.mu.Unlock()
	}

	// Watchers on the surviving nodes received every acknowledged group
	// message.
	waitFor(t, 30*time.Second, "watchers on surviving nodes received every group message", func() bool {
		for _, w := range watchers {
			if w.node == killed {
				continue
			}
			w.mu.Lock()
			for _, text := range groupTexts {
				if !w.got[text] {
					w.mu.Unlock()
					return false
				}
			}
			w.mu.Unlock()
		}
		return true
	})
	t.Logf("%d messages acknowledged (%d to the group) in %v; node %d killed after half; %d callbacks, %d duplicates; all delivered %v after the kill",
		len(acked), len(groupTexts), sentFor.Round(time.Millisecond), killed, callbacks, dups, allDelivered.Round(time.Millisecond))
	if len(acked) < len(senders)*perSender-len(senders) {
		t.Errorf("only %d of %d messages acknowledged", len(acked), len(senders)*perSender)
	}
}

// waitFor polls cond until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond) // polling outside processes; bounded by the deadline
	}
}
