package server

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parley/internal/config"
	"parley/internal/store"
	"parley/internal/store/storetest"
)

// These tests run several nodes (in-process servers) on one PostgreSQL
// database. They run only with PARLEY_TEST_ENGINE=postgres: scripts/test's
// PostgreSQL pass.

// startCluster starts n nodes on one new PostgreSQL database; edit
// changes node i's configuration. Every env has the first app's
// credentials. It returns the nodes, a stop function per node and the
// database URL.
func startCluster(t *testing.T, n int, edit func(i int, c *config.Serve), opt Options) ([]*env, []func(), string) {
	t.Helper()
	if storetest.Engine(t) != storetest.Postgres {
		t.Skip("cluster tests run with PARLEY_TEST_ENGINE=postgres")
	}
	db := storetest.URL(t, storetest.Postgres)
	var nodes []*env
	var stops []func()
	for i := range n {
		e, stop := startOn(t, db, func(c *config.Serve) {
			c.Node = fmt.Sprintf("node%d", i)
			if edit != nil {
				edit(i, c)
			}
		}, opt)
		if i > 0 {
			e.appID, e.restKey, e.authKey = nodes[0].appID, nodes[0].restKey, nodes[0].authKey
		}
		nodes = append(nodes, e)
		stops = append(stops, stop)
	}
	return nodes, stops, db
}

// userStatus reads a user's status and lastActiveAt through node e.
func (e *env) userStatus(uid string) (string, int64) {
	e.t.Helper()
	u := e.must("GET", "/v3/users/"+uid, nil, nil).Data()
	at, _ := u["lastActiveAt"].(float64)
	return str(u, "status"), int64(at)
}

// available lists the uids GET /v3/users?status=available shows through e.
func (e *env) available() []string {
	e.t.Helper()
	var out []string
	for _, u := range e.must("GET", "/v3/users?status=available&perPage=100", nil, nil).List() {
		out = append(out, str(u, "uid"))
	}
	return out
}

// TestClusterPresence: a user connected to one node is available through
// every node; it goes offline when its last connection on any node
// closes; every node's clients get one presence frame per change of the
// user's status across the cluster, also when its connections to two
// nodes open and close at the same time.
func TestClusterPresence(t *testing.T) {
	t.Parallel()
	nodes, _, _ := startCluster(t, 2, nil, Options{})
	a, b := nodes[0], nodes[1]
	tokens := a.users("alice", "carol", "dave")
	a.user("sys")
	// Watchers: carol on node 0, dave on node 1.
	carol, dave := a.dialPresence(tokens["carol"]), b.dialPresence(tokens["dave"])
	watchers := map[string]*ws{"carol": carol, "dave": dave}
	marker := 0
	// events returns, for each watcher, the presence statuses of alice
	// received since the last call.
	events := func() map[string][]string {
		t.Helper()
		marker++
		text := "marker-" + strconv.Itoa(marker)
		out := map[string][]string{}
		for name, w := range watchers {
			a.say("sys", name, text)
			out[name] = w.presenceUntil("alice", text)
		}
		return out
	}
	expect := func(what string, want ...string) {
		t.Helper()
		for name, got := range events() {
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s: %s received presence %v, want %v", what, name, got, want)
			}
		}
	}
	bothSay := func(what, want string) {
		t.Helper()
		for i, n := range nodes {
			if st, _ := n.userStatus("alice"); st != want {
				t.Errorf("%s: alice is %s through node %d, want %s", what, st, i, want)
			}
		}
	}
	events() // drain carol's and dave's own presence
	bothSay("before connecting", "offline")

	// Connected to node 1: available through node 0 at once (presence is
	// recorded before the connected frame).
	onB := b.dial(tokens["alice"])
	bothSay("connected to node 1", "available")
	if got := a.available(); strings.Join(got, ",") != "alice,carol,dave" {
		t.Errorf("available through node 0: %v", got)
	}
	expect("first connection", "available")

	// A second connection, on node 0: no change, no frame.
	onA := a.dial(tokens["alice"])
	expect("second connection")
	// The node-1 connection closes: still available through both.
	onB.conn.Close(websocket.StatusNormalClosure, "")
	a.srvWaitConns(b, 1) // only dave is left on node 1
	_, before := a.userStatus("alice")
	// The last connection closes: offline through both, lastActiveAt
	// updated, one frame.
	onA.conn.Close(websocket.StatusNormalClosure, "")
	off := carol.presenceOf("alice")
	if off.status != "offline" || off.lastActiveAt < before {
		t.Fatalf("offline frame %+v (lastActiveAt before %d)", off, before)
	}
	bothSay("after the last connection closed", "offline")
	if _, at := b.userStatus("alice"); at != off.lastActiveAt {
		t.Errorf("lastActiveAt %d through node 1, frame said %d", at, off.lastActiveAt)
	}
	if got := dave.presenceOf("alice"); got != off {
		t.Errorf("dave got %+v, carol %+v", got, off)
	}
	expect("after the offline frame")

	// Both nodes at once, several times: one frame per change.
	for round := range 5 {
		var wg sync.WaitGroup
		conns := make([]*ws, 2)
		for i, n := range nodes {
			wg.Go(func() { conns[i] = n.dialQuiet(tokens["alice"]) })
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		bothSay(fmt.Sprintf("round %d, both connected", round), "available")
		expect(fmt.Sprintf("round %d, two connections at once", round), "available")
		for _, c := range conns {
			wg.Go(func() { c.conn.Close(websocket.StatusNormalClosure, "") })
		}
		wg.Wait()
		if f := carol.presenceOf("alice"); f.status != "offline" {
			t.Fatalf("round %d: %+v", round, f)
		}
		if f := dave.presenceOf("alice"); f.status != "offline" {
			t.Fatalf("round %d: %+v", round, f)
		}
		expect(fmt.Sprintf("round %d, after both closed", round))
		bothSay(fmt.Sprintf("round %d, both closed", round), "offline")
	}
}

// srvWaitConns waits until node n's hub holds conns connections.
func (e *env) srvWaitConns(n *env, conns int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, _ := n.srv.Hub.Stats(); c == conns {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("node never reached %d connections", conns)
		}
		time.Sleep(5 * time.Millisecond) // polling another goroutine's progress; bounded by the deadline
	}
}

// dialQuiet is dial for any goroutine: it reports failures with Errorf.
func (e *env) dialQuiet(token string) *ws {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.base, "http") + "/v3/ws?appId=" + e.appID + "&authToken=" + token
	c, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		e.t.Errorf("dial: %v", err)
		return nil
	}
	e.t.Cleanup(func() { c.CloseNow() })
	if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), `"connected"`) {
		e.t.Errorf("first frame %s %v", b, err)
	}
	return &ws{t: e.t, conn: c}
}

// TestClusterPresenceOfDeadNode: the presence kept by a node whose lease
// ran out is ended by the node whose maintenance turn it is: its users
// without a connection elsewhere go offline once (lastActiveAt: the dead
// node's last heartbeat), those connected elsewhere stay available. A
// node that was taken for dead but lives announces its users again.
func TestClusterPresenceOfDeadNode(t *testing.T) {
	t.Parallel()
	nodes, _, _ := startCluster(t, 1, func(_ int, c *config.Serve) { c.NodeLease = time.Second }, Options{})
	a := nodes[0]
	ctx := t.Context()
	db := a.srv.DB
	tokens := a.users("alice", "bob", "carol")
	a.user("sys")
	carol := a.dialPresence(tokens["carol"])
	a.dial(tokens["bob"]) // bob is also connected to a live node

	// A node "ghost" with alice and bob, alive for an hour.
	now := time.Now()
	if _, err := db.RenewNode(ctx, "ghost", now.UnixMilli(), now.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx *store.Tx) error {
		if err := tx.AddPresence(ctx, a.appID, "alice", "ghost", now.Add(-time.Hour).UnixMilli()); err != nil {
			return err
		}
		return tx.AddPresence(ctx, a.appID, "bob", "ghost", now.Add(-time.Hour).UnixMilli())
	}); err != nil {
		t.Fatal(err)
	}
	if st, _ := a.userStatus("alice"); st != "available" {
		t.Fatalf("alice on a live node is %s", st)
	}
	// The ghost dies: its last heartbeat ten minutes ago, lease over.
	hb := now.Add(-10 * time.Minute)
	if _, err := db.RenewNode(ctx, "ghost", hb.UnixMilli(), hb.Add(time.Second).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	// Reads stop counting its rows at once; the frame comes when node 0
	// ends it.
	if st, _ := a.userStatus("alice"); st != "offline" {
		t.Fatalf("alice on a dead node is %s", st)
	}
	off := carol.presenceOf("alice")
	if off.status != "offline" || off.lastActiveAt != hb.Unix() {
		t.Fatalf("frame %+v, want offline at the last heartbeat %d", off, hb.Unix())
	}
	if st, at := a.userStatus("alice"); st != "offline" || at != hb.Unix() {
		t.Fatalf("alice %s, lastActiveAt %d", st, at)
	}
	a.say("sys", "carol", "m1")
	if got := carol.presenceUntil("bob", "m1"); len(got) != 0 {
		t.Fatalf("bob, still connected to node 0, got frames %v", got)
	}
	if st, _ := a.userStatus("bob"); st != "available" {
		t.Fatalf("bob is %s", st)
	}
	if err := db.Read(ctx, func(tx *store.Tx) error {
		ok, err := tx.NodeExists(ctx, "ghost")
		if ok {
			t.Errorf("the dead node's row is left")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// Node 0 taken for dead (its row and presence deleted, as another node
	// would) while it lives: its next heartbeat registers it again and
	// announces bob and carol again.
	if err := db.Write(ctx, func(tx *store.Tx) error {
		if _, _, err := tx.DeleteNode(ctx, "node0", math.MaxInt64); err != nil {
			return err
		}
		_, err := tx.DeleteNodePresence(ctx, "node0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a.poll("/v3/users/bob", 10*time.Second, func(u map[string]any) bool { return u["status"] == "available" })
	if err := db.Read(ctx, func(tx *store.Tx) error {
		ok, err := tx.Present(ctx, a.appID, "carol", "", time.Now().UnixMilli())
		if !ok {
			t.Errorf("carol not announced again")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// metric reads a counter of node e's /metrics.
func (e *env) metric(name string) float64 {
	e.t.Helper()
	res, err := http.Get(e.base + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				e.t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	return 0
}

// TestMaintenanceOnOneNode: of three nodes, one runs the periodic work;
// when it stops, exactly one of the others takes over. A failing bot gets
// one probe at a time in the whole cluster.
func TestMaintenanceOnOneNode(t *testing.T) {
	t.Parallel()
	opt := fastDelivery()
	opt.Dispatch.Maintenance = 20 * time.Millisecond
	nodes, stops, _ := startCluster(t, 3, func(_ int, c *config.Serve) { c.WebhookAllow = "127.0.0.0/8" }, opt)
	const name = "parley_maintenance_runs_total"
	waitRuns := func(alive []int, atLeast float64) []float64 {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := make([]float64, len(nodes))
			sum := 0.0
			for _, i := range alive {
				got[i] = nodes[i].metric(name)
				sum += got[i]
			}
			if sum >= atLeast {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("maintenance ran %v times, want %v", got, atLeast)
			}
			time.Sleep(20 * time.Millisecond) // polling the nodes' counters; bounded by the deadline
		}
	}
	got := waitRuns([]int{0, 1, 2}, 20)
	holder := -1
	for i, v := range got {
		if v > 0 {
			if holder >= 0 {
				t.Fatalf("maintenance ran on nodes %d and %d: %v", holder, i, got)
			}
			holder = i
		}
	}
	// Stop the holder: one of the others takes over, alone.
	stops[holder]()
	var alive []int
	for i := range nodes {
		if i != holder {
			alive = append(alive, i)
		}
	}
	got = waitRuns(alive, 20)
	next := -1
	for _, i := range alive {
		if got[i] > 0 {
			if next >= 0 {
				t.Fatalf("after the holder stopped, maintenance ran on nodes %d and %d: %v", next, i, got)
			}
			next = i
		}
	}
	t.Logf("maintenance on node %d, then node %d: %v", holder, next, got)

	// A failing bot, with deliveries in several lanes, on the two nodes
	// left: probes never overlap.
	e := nodes[alive[0]]
	fb := newFakeBot(t)
	fb.set(func(botReq, int) answer { return answer{Status: 500, Delay: 50 * time.Millisecond} })
	e.bot("sick", fb, nil)
	senders := []string{"s1", "s2", "s3", "s4"}
	for _, s := range senders {
		e.user(s)
	}
	for i, s := range senders {
		nodes[alive[i%2]].say(s, "sick", "hello")
	}
	e.waitBot("sick", func(b map[string]any) bool { return str(b, "health.state") == "failing" })
	fb.quiesce()
	start := fb.count()
	deadline := time.Now().Add(30 * time.Second)
	for fb.count() < start+4 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d probes", fb.count()-start)
		}
		time.Sleep(20 * time.Millisecond) // polling the endpoint; bounded by the deadline
	}
	if p := fb.peak(); p != 1 {
		t.Fatalf("a failing bot was probed %d at a time", p)
	}
}

// quiesce waits until the bot answers nothing, then resets its peak.
func (b *fakeBot) quiesce() {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		if b.inFlight == 0 {
			b.maxInFlight = 0
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		if time.Now().After(deadline) {
			b.t.Fatal("the bot never became idle")
		}
		time.Sleep(5 * time.Millisecond) // polling the endpoint; bounded by the deadline
	}
}

// adminDB opens the maintenance database of PARLEY_TEST_POSTGRES.
func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", storetest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
