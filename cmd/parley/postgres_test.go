package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"parley/internal/store/storetest"
)

// TestMigrateCommand applies the migrations of a new database, then finds
// nothing to do.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	code, out, stderr := runCLI(t, "migrate", "--db", db)
	if code != 0 || !strings.Contains(out, "applied 0001_chat.sql") || !strings.Contains(out, "database schema is at version") {
		t.Fatalf("first migrate: exit %d, %q %q", code, out, stderr)
	}
	code, out, stderr = runCLI(t, "migrate", "--db", db)
	if code != 0 || strings.Contains(out, "applied") || !strings.Contains(out, "up to date") {
		t.Fatalf("second migrate: exit %d, %q %q", code, out, stderr)
	}
}

// TestTwoNodesStartAtOnce starts two servers on one new database at the
// same moment: both serve, the migrations are applied once, and only one
// of them creates the first app. On SQLite, where one process serves a
// database, exactly one of them serves and the other says why it cannot.
func TestTwoNodesStartAtOnce(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	procs := make([]*proc, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			procs[i], errs[i] = launch(t, db)
		}()
	}
	wg.Wait()
	if storetest.Engine(t) == storetest.SQLite {
		served, refused := 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				served++
				procs[i].cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // checked by Wait
				procs[i].cmd.Wait()                          //nolint:errcheck // its exit is not the point
			case strings.Contains(err.Error(), "another parley serve is using"):
				refused++
			default:
				t.Errorf("node %d: %v", i, err)
			}
		}
		if served != 1 || refused != 1 {
			t.Fatalf("on one SQLite file %d served and %d were refused, want 1 and 1", served, refused)
		}
		return
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	// Whichever node created the first app printed its keys; both nodes
	// serve them.
	var appID, key string
	deadline := time.Now().Add(5 * time.Second)
	for appID == "" {
		for _, p := range procs {
			if strings.Contains(p.stdout.String(), "REST API key") {
				appID, key = p.keys(t)
			}
		}
		if appID == "" && time.Now().After(deadline) {
			t.Fatal("no node printed the first app's keys")
		}
		time.Sleep(10 * time.Millisecond) // polling a pipe copy; bounded by the deadline
	}
	for i, p := range procs {
		code, body, err := request("POST", p.base, appID, key, "/v3/users", fmt.Sprintf(`{"uid":"node%d","name":"N"}`, i))
		if err != nil || code != 200 {
			t.Fatalf("node %d: %d %s %v", i, code, body, err)
		}
	}
	// Once both have exited, their output is complete: one first start.
	first := 0
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // checked by Wait
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("exit: %v", err)
		}
		first += strings.Count(p.stdout.String(), "First start")
	}
	if first != 1 {
		t.Fatalf("%d nodes created a first app, want 1", first)
	}
	code, out, stderr := runCLI(t, "migrate", "--db", db)
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate after two starts: %d %q %q", code, out, stderr)
	}
}

// TestCopySQLiteToPostgres moves a real installation: data made through
// the API of a server on SQLite (users, tokens, blocks, a group with
// members and a ban, 1:1, group and thread messages, an edit, a delete,
// read receipts, a bot with a delivered callback), copied with `parley
// copy` into PostgreSQL; a server on PostgreSQL then answers every read
// exactly as the SQLite one did, keeps the keys, and goes on (new ids
// after the copied ones, deliveries to the bot).
func TestCopySQLiteToPostgres(t *testing.T) {
	t.Parallel()
	target := storetest.URL(t, storetest.Postgres)
	source := "sqlite:" + filepath.Join(t.TempDir(), "data", "parley.db")

	rec := &recorder{seen: map[string]int{}}
	hook := &http.Server{Handler: rec}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hook.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { hook.Close() })

	p := startBinary(t, source, "--webhook-allow", "127.0.0.0/8")
	appID, key := p.keys(t)
	c := &client{t: t, base: p.base, appID: appID, key: key}
	c.must("POST", "/v3/users", `{"uid":"alice","name":"Alice","metadata":{"city":"Zürich"},"tags":["vip"],"withAuthToken":true}`)
	c.must("POST", "/v3/users", `{"uid":"bob","name":"Bob"}`)
	c.must("POST", "/v3/users", `{"uid":"carol","name":"Carol"}`)
	c.must("POST", "/v3/users", `{"uid":"helper","name":"Helper bot"}`)
	c.must("POST", "/v3/bots", `{"uid":"helper","webhookURL":"http://`+ln.Addr().String()+`/hook","enabled":true,"groupChatSetting":"allMessages"}`)
	c.must("POST", "/v3/users/carol/blockedusers", `{"blockedUids":["bob"]}`)
	c.must("POST", "/v3/groups", `{"guid":"team","name":"Team","type":"public","members":{"participants":["bob","helper"]}}`, "onBehalfOf", "alice")
	c.must("POST", "/v3/groups/team/bannedusers/carol", ``, "onBehalfOf", "alice")
	var ids []string
	for i := range 3 {
		r := c.must("POST", "/v3/messages", fmt.Sprintf(`{"receiver":"bob","receiverType":"user","data":{"text":"hi bob %d"}}`, i), "onBehalfOf", "alice")
		ids = append(ids, r.str("data.id"))
	}
	c.must("POST", "/v3/messages", `{"receiver":"team","receiverType":"group","data":{"text":"hello team <@uid:bob>"}}`, "onBehalfOf", "alice")
	c.must("POST", "/v3/messages/"+ids[0]+"/thread", `{"receiver":"alice","receiverType":"user","data":{"text":"in the thread"}}`, "onBehalfOf", "bob")
	c.must("PUT", "/v3/messages/"+ids[1], `{"data":{"text":"edited"}}`, "onBehalfOf", "alice")
	c.must("DELETE", "/v3/messages/"+ids[2], ``, "onBehalfOf", "alice")
	c.must("POST", "/v3/users/alice/conversation/read", ``, "onBehalfOf", "bob")
	c.must("POST", "/v3/messages", `{"receiver":"helper","receiverType":"user","data":{"text":"help me"}}`, "onBehalfOf", "bob")
	c.waitDelivered("helper", 2)

	reads := []struct{ path, as string }{
		{"/v3/users?perPage=100", ""},
		{"/v3/users/alice", ""},
		{"/v3/users/alice/auth_tokens", ""},
		{"/v3/users/carol/blockedusers", ""},
		{"/v3/apikeys", ""},
		{"/v3/groups", ""},
		{"/v3/groups/team/members", ""},
		{"/v3/groups/team/bannedusers", ""},
		{"/v3/messages?limit=100", ""},
		{"/v3/messages?searchKey=HELLO", ""},
		{"/v3/users/alice/messages", "bob"},
		{"/v3/groups/team/messages", "bob"},
		{"/v3/messages/" + ids[0] + "/thread", "alice"},
		{"/v3/conversations", "bob"},
		{"/v3/conversations", "alice"},
		{"/v3/bots", ""},
		{"/v3/bots/helper/deliveries", ""},
	}
	before := make([]string, len(reads))
	for i, r := range reads {
		before[i] = c.get(r.path, r.as)
	}
	var deliveries struct {
		Data []struct {
			ID any `json:"id"`
		} `json:"data"`
	}
	json.Unmarshal([]byte(before[len(before)-1]), &deliveries) //nolint:errcheck // checked below
	if len(deliveries.Data) != 2 {
		t.Fatalf("deliveries: %s", before[len(before)-1])
	}
	for _, d := range deliveries.Data {
		path := fmt.Sprintf("/v3/bots/helper/deliveries/%v", d.ID)
		reads = append(reads, struct{ path, as string }{path, ""})
		before = append(before, c.get(path, ""))
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("SQLite server exit: %v", err)
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "copy", "--from", source, "--to", target).CombinedOutput()
	if err != nil {
		t.Fatalf("parley copy: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "messages") || !strings.Contains(string(out), "(sqlite) to") || !strings.Contains(string(out), "(postgres)") {
		t.Fatalf("copy output: %s", out)
	}
	// Copying again into the filled database is refused.
	again, err := exec.CommandContext(ctx, bin, "copy", "--from", source, "--to", target).CombinedOutput()
	if err == nil || !strings.Contains(string(again), "not empty") {
		t.Fatalf("second copy: %v: %s", err, again)
	}

	q := startBinary(t, target, "--webhook-allow", "127.0.0.0/8")
	if strings.Contains(q.stdout.String(), "First start") {
		t.Fatal("the server on the copy created a first app: the apps were not copied")
	}
	c.base = q.base
	for i, r := range reads {
		if got := c.get(r.path, r.as); !sameJSON(before[i], got) {
			t.Errorf("GET %s (as %q) differs after the copy:\nsqlite   %s\npostgres %s", r.path, r.as, before[i], got)
		}
	}
	// The installation goes on: new ids follow the copied ones, and the bot
	// gets its callbacks from the new server.
	r := c.must("POST", "/v3/messages", `{"receiver":"helper","receiverType":"user","data":{"text":"still there?"}}`, "onBehalfOf", "bob")
	var last, next int64
	fmt.Sscan(ids[len(ids)-1], &last)
	fmt.Sscan(r.str("data.id"), &next)
	if next <= last {
		t.Errorf("new message id %d is not after the copied ones (%d)", next, last)
	}
	c.waitDelivered("helper", 3)
}

// client calls the API of a running binary.
type client struct {
	t                *testing.T
	base, appID, key string
}

type answer struct {
	raw  []byte
	body map[string]any
}

func (a answer) str(path string) string {
	var cur any = a.body
	for _, k := range strings.Split(path, ".") {
		m, _ := cur.(map[string]any)
		cur = m[k]
	}
	return fmt.Sprint(cur)
}

// must sends a request (headers as name, value pairs) and fails the test
// unless the answer is 200.
func (c *client) must(method, path, body string, h ...string) answer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("appId", c.appID)
	req.Header.Set("apiKey", c.key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.StatusCode != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	a := answer{raw: raw}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return a
}

// get reads a path, on behalf of a user when as is set.
func (c *client) get(path, as string) string {
	c.t.Helper()
	if as == "" {
		return string(c.must("GET", path, "").raw)
	}
	return string(c.must("GET", path, "", "onBehalfOf", as).raw)
}

// waitDelivered waits until the bot has n succeeded deliveries.
func (c *client) waitDelivered(bot string, n int) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct {
			Data []any `json:"data"`
		}
		json.Unmarshal(c.must("GET", "/v3/bots/"+bot+"/deliveries?state=succeeded", "").raw, &r) //nolint:errcheck // an empty list retries
		if len(r.Data) == n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%d of %d deliveries to %s succeeded", len(r.Data), n, bot)
		}
		time.Sleep(20 * time.Millisecond) // waiting for the delivery engine; bounded by the deadline
	}
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestFirstStartAfterFailedListen: a first start that cannot listen
// creates no app, so the next start still shows the first app's keys.
func TestFirstStartAfterFailedListen(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if code, _, stderr := runCLI(t, "serve", "--addr", busy.Addr().String(), "--db", db); code != 1 || !strings.Contains(stderr, "listen on") {
		t.Fatalf("serve on a taken port: exit %d, %q", code, stderr)
	}
	p := startBinary(t, db)
	if appID, key := p.keys(t); appID == "" || key == "" {
		t.Fatal("no first-start keys")
	}
}
