package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
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
// with the bots and WebSocket watchers, through all three nodes in turn,
// and keep a slow bot busy in several conversations; one node is killed
// with SIGKILL half-way, while it is attempting deliveries to the slow
// bot, and the rest goes through the survivors. Every acknowledged message
// reaches every bot it should, in order per conversation, duplicates only
// with the same webhook-id; the deliveries the killed node was attempting
// are taken over after their lease and delivered by another node, with
// the same webhook-id; every watcher on a surviving node receives every
// acknowledged group message; the killed node's watchers go offline once
// its node lease runs out, with one presence frame each on the survivors.
func TestCluster(t *testing.T) {
	db := storetest.URL(t, storetest.Postgres) // skipped without PARLEY_TEST_POSTGRES
	// A short lease past the bots' timeouts: the killed node's leased
	// deliveries are taken over within seconds, and so is its presence.
	t.Setenv("PARLEY_DELIVERY_LEASE", "2s")
	t.Setenv("PARLEY_NODE_LEASE", "3s")
	const (
		nodes     = 3
		killed    = 1
		perSender = 40
		slowDelay = 1500 * time.Millisecond // the slow bot's work per callback, under its 5 s timeout
	)
	args := func(n int) []string {
		return []string{"--webhook-allow", "127.0.0.0/8", "--node", fmt.Sprintf("node%d", n)}
	}
	procs := []*proc{startBinary(t, db, args(0)...)}
	appID, key := procs[0].keys(t)
	for n := 1; n < nodes; n++ {
		procs = append(procs, startBinary(t, db, args(n)...))
	}
	sqlDB, err := sql.Open("pgx", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
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
	// The slow bot: each callback takes slowDelay, so that a node always
	// has attempts to it in flight. It notes the callbacks cut off before
	// it answered (their node died).
	slow := newSlowBot()
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slow.serve(t, w, r, slowDelay)
	}))
	t.Cleanup(slowSrv.Close)
	must(procs[2], "/v3/users", `{"uid":"slowbot","name":"Slow"}`)
	must(procs[2], "/v3/bots", `{"uid":"slowbot","webhookURL":"`+slowSrv.URL+`/hook","enabled":true,"timeoutSeconds":5}`)
	slowSenders := []string{"sa", "sb", "sc", "sd", "se", "sf"}
	senders := []string{"ann", "ben", "cat"}
	for _, u := range append(append([]string{}, senders...), slowSenders...) {
		must(procs[0], "/v3/users", `{"uid":"`+u+`","name":"U"}`)
	}
	// Watchers: two per node, members of the group.
	type watcher struct {
		uid      string
		node     int
		mu       sync.Mutex
		got      map[string]bool     // texts of message frames
		presence map[string][]string // statuses of presence frames, by uid
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
			watchers = append(watchers, &watcher{uid: uid, node: n, got: map[string]bool{}, presence: map[string][]string{}})
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
		u := "ws" + strings.TrimPrefix(procs[w.node].base, "http") + "/v3/ws?appId=" + appID + "&authToken=" + tokens[w.uid] + "&presence=all"
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
						UID    string `json:"uid"`
						Status string `json:"status"`
						Data   struct {
							Text string `json:"text"`
						} `json:"data"`
					} `json:"data"`
				}
				if json.Unmarshal(b, &f) != nil {
					continue
				}
				w.mu.Lock()
				switch f.Type {
				case "message":
					w.got[f.Data.Data.Text] = true
				case "presence":
					w.presence[f.Data.UID] = append(w.presence[f.Data.UID], f.Data.Status)
				}
				w.mu.Unlock()
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
	// The slow bot's senders: one conversation (lane) each, until the end
	// of the test; through the node to be killed while it lives (the node
	// that receives a message is woken at once and claims the lane's head,
	// and a node that ends an attempt claims the lane's next one: the
	// lanes stay on it), then through the survivors in turn.
	slowCtx, stopSlow := context.WithCancel(ctx)
	var slowSending sync.WaitGroup
	defer slowSending.Wait()
	defer stopSlow()
	for si, u := range slowSenders {
		slowSending.Add(1)
		go func() {
			defer slowSending.Done()
			sent := 0
			for i := 0; slowCtx.Err() == nil && i < 100; i++ {
				n := killed
				if dead.Load() {
					n = (killed + 1 + (si+i)%(nodes-1)) % nodes
				}
				text := fmt.Sprintf("%s-%03d", u, i)
				code, _, err := request("POST", procs[n].base, appID, key, "/v3/messages",
					`{"receiver":"slowbot","receiverType":"user","data":{"text":"`+text+`"}}`, "onBehalfOf", u)
				if err == nil && code == 200 {
					sent++
				}
				// Keep a backlog of a few callbacks per conversation.
				slow.waitBacklog(slowCtx, u, sent, 3)
			}
		}()
	}
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
	// Kill the node while the slow bot is answering callbacks it leased.
	var cutOff []string // webhook-ids the killed node was attempting
	waitFor(t, 60*time.Second, "the node to kill attempting deliveries to the slow bot", func() bool {
		rows, err := sqlDB.Query(`SELECT webhook_id FROM deliveries WHERE bot_uid = 'slowbot' AND state = 'pending' AND lease_owner = $1 AND lease_until > $2`,
			fmt.Sprintf("node%d", killed), time.Now().UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cutOff = cutOff[:0]
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			if slow.answering(id) {
				cutOff = append(cutOff, id)
			}
		}
		if len(cutOff) == 0 {
			return false
		}
		dead.Store(true)
		if err := procs[killed].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		return true
	})
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

	// The deliveries the killed node was attempting were taken over and
	// delivered by a survivor with the same webhook-id: each was answered
	// in a callback that arrived after the kill. (One the bot was just
	// finishing as the node died may have been answered to the dead node
	// as well, or instead of being cut off: its record was lost all the
	// same.) The kill cut off at least one of them.
	waitFor(t, 60*time.Second, "the killed node's deliveries to the slow bot taken over", func() bool {
		slow.mu.Lock()
		defer slow.mu.Unlock()
		cut := 0
		for _, id := range cutOff {
			if !slices.ContainsFunc(slow.arrived[id], func(at time.Time) bool { return at.After(killedAt) }) {
				return false
			}
			if slow.cut[id] {
				cut++
			}
		}
		return cut > 0
	})
	stopSlow()
	slowSending.Wait()

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
	// The killed node's watchers: offline through the survivors once its
	// lease ran out, with one presence frame each on every surviving
	// watcher.
	for _, w := range watchers {
		if w.node != killed {
			continue
		}
		waitFor(t, 30*time.Second, w.uid+" offline through the survivors", func() bool {
			for n, p := range procs {
				if n == killed {
					continue
				}
				_, b, err := request("GET", p.base, appID, key, "/v3/users/"+w.uid, "")
				if err != nil || !strings.Contains(string(b), `"status":"offline"`) {
					return false
				}
			}
			return true
		})
		for _, o := range watchers {
			if o.node == killed {
				continue
			}
			waitFor(t, 10*time.Second, o.uid+" told that "+w.uid+" went offline", func() bool {
				o.mu.Lock()
				defer o.mu.Unlock()
				ps := o.presence[w.uid]
				return len(ps) > 0 && ps[len(ps)-1] == "offline"
			})
		}
	}
	// A marker through each survivor, then: exactly one offline frame for
	// each of the killed node's watchers.
	must(procs[0], "/v3/messages", `{"receiver":"team","receiverType":"group","data":{"text":"the end"}}`, "onBehalfOf", "ann")
	waitFor(t, 10*time.Second, "the last group message", func() bool {
		for _, w := range watchers {
			if w.node == killed {
				continue
			}
			w.mu.Lock()
			ok := w.got["the end"]
			w.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	for _, o := range watchers {
		if o.node == killed {
			continue
		}
		o.mu.Lock()
		for _, w := range watchers {
			if w.node != killed {
				continue
			}
			n := 0
			for _, st := range o.presence[w.uid] {
				if st == "offline" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s received %d offline frames for %s: %v", o.uid, n, w.uid, o.presence[w.uid])
			}
		}
		o.mu.Unlock()
	}

	t.Logf("%d messages acknowledged (%d to the group) in %v; node %d killed after half with %d slow-bot deliveries in flight; %d callbacks, %d duplicates; all delivered %v after the kill",
		len(acked), len(groupTexts), sentFor.Round(time.Millisecond), killed, len(cutOff), callbacks, dups, allDelivered.Round(time.Millisecond))
	if len(acked) < len(senders)*perSender-len(senders) {
		t.Errorf("only %d of %d messages acknowledged", len(acked), len(senders)*perSender)
	}
}

// slowBot is a bot endpoint that takes a while to answer. It records the
// callbacks it is answering, those it answered (200) and those whose
// sender (a node) went away before the answer.
type slowBot struct {
	mu        sync.Mutex
	inFlight  map[string]int         // webhook-id -> callbacks being answered
	delivered map[string]int         // webhook-id -> callbacks answered 200
	cut       map[string]bool        // webhook-ids of callbacks cut off
	byText    map[string]string      // text -> webhook-id of its first answered callback
	answered  map[string]int         // sender -> texts answered
	arrived   map[string][]time.Time // webhook-id -> when the callbacks answered 200 arrived
}

func newSlowBot() *slowBot {
	return &slowBot{inFlight: map[string]int{}, delivered: map[string]int{}, cut: map[string]bool{},
		byText: map[string]string{}, answered: map[string]int{}, arrived: map[string][]time.Time{}}
}

func (b *slowBot) serve(t *testing.T, w http.ResponseWriter, r *http.Request, delay time.Duration) {
	id := r.Header.Get("webhook-id")
	arrived := time.Now()
	sender, text := readCallback(r)
	b.mu.Lock()
	b.inFlight[id]++
	b.mu.Unlock()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight[id]--
	if r.Context().Err() != nil {
		b.cut[id] = true
		return
	}
	if b.delivered[id] == 0 {
		if other, ok := b.byText[text]; ok {
			t.Errorf("slow bot: %q delivered under webhook-ids %s and %s", text, other, id)
		} else {
			b.byText[text] = id
			b.answered[sender]++
		}
	}
	b.delivered[id]++
	b.arrived[id] = append(b.arrived[id], arrived)
	w.WriteHeader(http.StatusOK)
}

// answering reports whether a callback with webhook-id id is being
// answered now.
func (b *slowBot) answering(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight[id] > 0
}

// waitBacklog waits, while ctx lasts, until fewer than n of the sent
// messages of sender are unanswered.
func (b *slowBot) waitBacklog(ctx context.Context, sender string, sent, n int) {
	for ctx.Err() == nil {
		b.mu.Lock()
		backlog := sent - b.answered[sender]
		b.mu.Unlock()
		if backlog < n {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond): // polling the endpoint's progress; bounded by ctx
		}
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
