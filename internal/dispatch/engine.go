package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
	"parley/internal/webhook"
)

// Config holds the engine's limits. Zero fields take the defaults.
type Config struct {
	// Workers bounds requests in flight over all bots; due deliveries
	// beyond it wait for the next round. Attempts whose answer is in and
	// that wait for their record (the store's writer) are bounded
	// separately, by recordingPerWorker × Workers.
	Workers int
	// MaxInFlight is the default per-bot cap on requests in flight: an
	// attempt takes a slot of its bot until the bot's answer is in.
	MaxInFlight int
	// Timeout is the default per-attempt timeout.
	Timeout time.Duration
	// Lease is how long past its timeout a claimed delivery stays taken;
	// after that another round (or node) may claim it again.
	Lease time.Duration
	// Batch bounds how many due deliveries one round reads.
	Batch int
	// Poll bounds how long the engine sleeps without a wake-up, so a lost
	// wake-up or a clock jump costs at most this much delay.
	Poll time.Duration
	// Maintenance is the period of the expiry sweep.
	Maintenance time.Duration
	// MaxResponseBytes bounds what is read of a bot's answer.
	MaxResponseBytes int64
	// Retry schedules retries; Health decides failing and probes.
	Retry  webhook.Policy
	Health chat.HealthPolicy
	// UserAgent is sent on every request.
	UserAgent string
	// Node names this process in the leases it takes (lease_owner);
	// default: a random name per process.
	Node string
}

// Defaults of Config.
const (
	DefaultWorkers     = 256
	DefaultMaxInFlight = 16
	DefaultLease       = 30 * time.Second
	DefaultBatch       = 512
	DefaultPoll        = time.Second
	DefaultMaintenance = time.Minute
	// recordingPerWorker × Workers bounds the attempts whose answer is
	// in and whose record waits for the store's writer (each holds its
	// goroutine and delivery): a writer that falls behind holds new
	// attempts back instead of piling them up.
	recordingPerWorker = 4
	// RealtimeRetention is how long real-time outbox rows are kept (a
	// node whose LISTEN connection dropped catches up from them; one
	// that was away longer misses events, which REST fills).
	RealtimeRetention = 5 * time.Minute
	// storedBodyBytes bounds the response body kept with an attempt.
	storedBodyBytes = 4 << 10
)

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Timeout <= 0 {
		c.Timeout = webhook.DefaultTimeout
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.Maintenance <= 0 {
		c.Maintenance = DefaultMaintenance
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = webhook.DefaultMaxResponseBytes
	}
	if c.Retry == (webhook.Policy{}) {
		c.Retry = webhook.DefaultPolicy()
	}
	if c.Health == (chat.HealthPolicy{}) {
		c.Health = chat.DefaultHealthPolicy()
	}
	if c.Node == "" {
		c.Node = fmt.Sprintf("node-%016x", rand.Uint64())
	}
	return c
}

type laneKey struct{ app, bot, conv string }
type botKey = store.BotKey

// keysOf returns the lane and the bot of a delivery.
func keysOf(d *chat.Delivery) (laneKey, botKey) {
	return laneKey{d.AppID, d.Bot, d.ConversationID}, botKey{App: d.AppID, Bot: d.Bot}
}

// Engine delivers queued deliveries.
type Engine struct {
	app     *app.App
	client  *http.Client
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics

	wake      chan struct{}
	wg        sync.WaitGroup
	clustered bool // the database is shared with other nodes

	// again makes the next round run at once: this one read a whole Batch
	// of due deliveries and started some (more may be due), or failed
	// deliveries of disabled bots (the next ones of their lanes are due
	// now, and no attempt will wake the engine for them). Run's goroutine
	// only.
	again bool

	mu sync.Mutex
	// held: the last round left due deliveries out for want of one of
	// the engine's slots (its request or record cap, a busy lane, a full
	// batch), so freeing any slot must wake the engine; heldBots: for
	// want of these bots' request slots (or a delivery Offer could not
	// keep waiting), so freeing one of theirs must. releases counts freed
	// slots, so that a round can tell that one was freed while it ran.
	held     bool
	heldBots map[botKey]bool
	releases uint64
	lanes    map[laneKey]bool // lanes with an attempt in flight (until its record)
	ids      map[int64]bool   // deliveries with an attempt in flight (until its record)
	inflight map[botKey]int   // requests in flight per bot
	probing  map[botKey]bool  // failing bots with a probe in flight
	total    int              // requests in flight
	// recording counts attempts whose answer is in and whose record is
	// not written yet: their lanes stay taken, their request slots are
	// free (posted).
	recording int
	// offered holds the deliveries Offer started since the running
	// round took its snapshot of what is in flight: the round may have
	// read them as due, and must not start them again.
	offered map[int64]bool
	// waiting holds deliveries offered since the running round's
	// snapshot that found their bot at its cap, per bot, oldest first:
	// the bot's next freed request slot starts one (posted) without a
	// round. The round's snapshot empties it (the round reads them from
	// the database); a delivery a round takes leaves it.
	waiting    map[botKey][]*chat.Delivery
	waitingIDs map[int64]bool
	// attemptCtx is the context of attempts while Run runs (nil before
	// and after): Offer starts nothing without it.
	attemptCtx context.Context
}

// New returns an engine that uses client (webhook.NewClient: the SSRF
// guard lives there) for every request. metrics may be nil.
func New(a *app.App, client *http.Client, cfg Config, metrics *Metrics, log *slog.Logger) *Engine {
	return &Engine{app: a, client: client, cfg: cfg.withDefaults(), log: log, now: time.Now, metrics: metrics, clustered: a.Clustered(),
		wake: make(chan struct{}, 1), lanes: map[laneKey]bool{}, ids: map[int64]bool{}, inflight: map[botKey]int{}, probing: map[botKey]bool{},
		offered: map[int64]bool{}, heldBots: map[botKey]bool{}, waiting: map[botKey][]*chat.Delivery{}, waitingIDs: map[int64]bool{}}
}

// Wake makes the engine look for due deliveries now. It never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts in flight.
func (e *Engine) Run(ctx context.Context) error {
	defer e.wg.Wait()
	if err := e.app.ReleaseAllLeases(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting (a SIGTERM right after start): not a failure
		}
		return err
	}
	e.mu.Lock()
	e.attemptCtx = context.WithoutCancel(ctx)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.attemptCtx = nil // before wg.Wait (deferred first): Offer adds no attempt after it
		e.mu.Unlock()
	}()
	maint := time.NewTicker(e.cfg.Maintenance)
	defer maint.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		e.runOnce(ctx)
		timer.Reset(e.sleep(ctx))
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-timer.C:
		case <-maint.C:
			e.maintain(ctx)
		}
	}
}

// sleep is how long to wait, at most Poll, for the next delivery or probe
// to come due. Deliveries due already but held back (their lane, bot or
// the engine at its cap) are not waited for: the attempt holding them
// back wakes the engine when it ends. A round that filled its batch runs
// again at once.
func (e *Engine) sleep(ctx context.Context) time.Duration {
	if e.again {
		return 0
	}
	now := e.now()
	next, err := e.app.NextDueAt(ctx, now)
	if err != nil || next.IsZero() {
		return e.cfg.Poll
	}
	return min(max(next.Sub(now), time.Millisecond), e.cfg.Poll)
}

// maintain fails deliveries older than the retry window and deletes old
// real-time outbox rows, on the one node of the cluster whose turn it is.
func (e *Engine) maintain(ctx context.Context) {
	if turn, err := e.app.MaintenanceTurn(ctx); err != nil || !turn {
		if err != nil {
			e.log.Warn("dispatch: maintenance lock", "err", err)
		}
		return
	}
	e.metrics.observeMaintenance()
	if n, err := e.app.PruneRealtimeEvents(ctx, RealtimeRetention); err != nil {
		e.log.Warn("dispatch: prune real-time events", "err", err)
	} else if n > 0 {
		e.log.Debug("dispatch: pruned real-time events", "count", n)
	}
	n, err := e.app.ExpireDeliveries(ctx, e.cfg.Retry.MaxAge)
	if err != nil {
		e.log.Warn("dispatch: expire deliveries", "err", err)
	} else if n > 0 {
		e.log.Info("dispatch: expired deliveries", "count", n)
	}
}

// runOnce claims what is due and can start now (leasing it to this node
// in the database), and starts it. Claimed deliveries this node cannot
// start now (a worker limit reached meanwhile) are released at once. It
// returns how many attempts it started.
func (e *Engine) runOnce(ctx context.Context) int {
	now := e.now()
	e.mu.Lock()
	free := e.cfg.Workers - e.total
	if e.recordingFull() {
		free = 0
	}
	// What is in flight here, for a single node's claim (no leases; nodes
	// sharing a database lease their claims instead).
	var fl *store.InFlight
	if !e.clustered {
		fl = &store.InFlight{Deliveries: maps.Clone(e.ids), PerBot: maps.Clone(e.inflight)}
	}
	releases := e.releases
	clear(e.offered)
	clear(e.waiting)
	clear(e.waitingIDs)
	clear(e.heldBots)
	if free <= 0 {
		e.held = true // what waits is not known: look when a slot frees
	}
	e.mu.Unlock()
	if free <= 0 {
		return 0
	}
	due, heldDue, err := e.app.ClaimDeliveries(ctx, now, store.Claim{Owner: e.cfg.Node, DefaultCap: e.cfg.MaxInFlight,
		Limit: min(free, e.cfg.Batch), LeaseMs: e.cfg.Lease.Milliseconds(), DefaultTimeout: e.cfg.Timeout.Milliseconds()}, fl)
	e.again = false
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("dispatch: claim due deliveries", "err", err)
		}
		return 0
	}
	targets := map[botKey]*app.DeliveryTarget{}
	var claimed []claim
	var unused []int64
	held := false // left out for want of an engine-wide slot or a lane
	e.mu.Lock()
	for bot := range heldDue.Bots {
		e.heldBots[bot] = true
	}
	for i := range due {
		dd := &due[i]
		d := &dd.Delivery
		lane, bot := keysOf(d)
		if e.leaveOut(d.ID, lane, &unused, &held) {
			continue
		}
		if d.Kind != chat.DeliveryKindTest && (!dd.BotEnabled || dd.BotHealth == chat.HealthDisabled) {
			e.mu.Unlock()
			if err := e.app.FailDelivery(ctx, d.ID, "bot_disabled", "the bot is disabled; replay the delivery after enabling it"); err != nil {
				e.log.Warn("dispatch: fail delivery of a disabled bot", "delivery", d.ID, "err", err)
			} else {
				e.again = true
			}
			e.mu.Lock()
			continue
		}
		probe := false
		if dd.BotHealth == chat.HealthFailing && d.Kind != chat.DeliveryKindTest {
			if e.probing[bot] || now.UnixMilli() < dd.NextProbe {
				unused = append(unused, d.ID)
				continue
			}
			probe = true
		}
		t, ok := targets[bot]
		if !ok {
			e.mu.Unlock()
			t, err = e.app.DeliveryTarget(ctx, d.AppID, d.Bot)
			e.mu.Lock()
			if err != nil {
				unused = append(unused, d.ID)
				continue // deleted meanwhile, or the database is failing: next round
			}
			targets[bot] = t
			if e.leaveOut(d.ID, lane, &unused, &held) { // asked again: the lock was free
				continue
			}
		}
		if e.full(bot, t) {
			unused = append(unused, d.ID)
			e.heldBots[bot] = true
			continue
		}
		claimed = append(claimed, e.take(claim{d: *d, target: t, probe: probe}))
	}
	// Due deliveries left out wait for a slot: the next attempt to end
	// wakes the engine; if one ended while this round ran, it did not
	// know, and the next round runs at once.
	e.held = held || heldDue.Batch
	if (e.held || len(e.heldBots) > 0) && e.releases != releases {
		e.again = true
	}
	e.mu.Unlock()
	if len(unused) > 0 {
		if err := e.app.ReleaseDeliveries(ctx, e.cfg.Node, unused); err != nil && ctx.Err() == nil {
			e.log.Warn("dispatch: release unused claims", "err", err) // they come due when their lease ends
		}
	}
	e.again = e.again || len(due) >= e.cfg.Batch
	e.wg.Add(len(claimed))
	e.start(context.WithoutCancel(ctx), claimed)
	return len(claimed)
}

// leaveOut reports whether a round must not start a due delivery now:
// Offer, a freed slot or a lane's hand-on took it since the round's
// snapshot (offered; perhaps its attempt has even ended), or its lane or
// the engine is busy (then it joins unused and the round has held work).
// A round asks before it starts a delivery and again whenever it let go
// of e.mu meanwhile. e.mu is held.
func (e *Engine) leaveOut(id int64, lane laneKey, unused *[]int64, held *bool) bool {
	switch {
	case e.offered[id]:
		return true
	case e.lanes[lane] || e.busy():
		*unused, *held = append(*unused, id), true
		return true
	}
	return false
}

// start runs an attempt of each claim, each on its own goroutine; the
// caller has added them to e.wg. A goroutine goes on with its lane's next
// delivery when the attempt made it the head and it can start (handOn).
func (e *Engine) start(ctx context.Context, claimed []claim) {
	for _, c := range claimed {
		go func() {
			defer e.wg.Done()
			for ok := true; ok; {
				next, successor := e.attempt(ctx, c)
				c, ok = e.handOn(ctx, c, next, successor)
			}
		}()
	}
}

// handOn ends a claim whose attempt is recorded. When the attempt made
// the lane's next delivery its head (successor) and that one can start
// now — one node, due, its bot's target cached and healthy, a request
// slot free — the lane passes to it without a round: handOn returns its
// claim. Otherwise it releases the claim (waking a round when next).
//
// No round can start the successor meanwhile: the lane stays in flight
// (lanes) from the attempt's start until the successor's claim is taken
// or the lane is released, and a round passes over lanes in flight.
func (e *Engine) handOn(ctx context.Context, c claim, next bool, successor int64) (claim, bool) {
	if successor == 0 || e.clustered {
		e.release(c, next)
		return claim{}, false
	}
	d, err := e.app.DueHead(ctx, successor)
	if err != nil || d == nil {
		e.release(c, true)
		return claim{}, false
	}
	e.mu.Lock()
	t := e.app.CachedDeliveryTarget(d.AppID, d.Bot)
	_, bot := keysOf(d)
	if e.attemptCtx == nil || !ready(t) || e.total >= e.cfg.Workers || e.full(bot, t) {
		e.mu.Unlock()
		e.release(c, true)
		return claim{}, false
	}
	wake := e.ended(c) || e.held
	n := e.takeOffered(d, t) // a round that read it as due before this must skip it
	e.mu.Unlock()
	if wake {
		e.Wake() // a record slot was freed, or a probe ended
	}
	return n, true
}

// Offer starts deliveries just committed, each the first in its lane,
// where the engine and the bot have a free slot and the bot's target is
// cached and healthy: on a single node, a new delivery then costs no
// round (no read of the queue) and waits for none. One whose bot is at
// its cap waits on the bot's list for the bot's next free slot (posted);
// the others are left to a round, which it wakes.
//
// It is called on the store's syncer goroutine once the commit is durable
// (app.Notifier), before any later write is answered. Every attempt ends
// with a write (app.CompleteAttempt) whose answer it waits for before its
// claim is released, so none can end while Offer looks: a delivery a round
// started already is still in flight (ids), and one Offer starts cannot
// end and be taken again by a round whose snapshot predates it (offered).
// It does not wait for the engine's lock: when a round holds it, the round
// after it takes the deliveries.
func (e *Engine) Offer(ds []*chat.Delivery) {
	if e.clustered {
		e.Wake()
		return
	}
	if !e.mu.TryLock() {
		// A round holds the lock (it claims what it read): never make
		// the store's syncer, and every write waiting for it, wait. The
		// round after it takes these.
		e.Wake()
		return
	}
	ctx := e.attemptCtx
	if ctx == nil { // not running
		e.mu.Unlock()
		return
	}
	wake := false
	var claimed []claim
	for _, d := range ds {
		lane, bot := keysOf(d)
		if !d.Head || d.State != chat.DeliveryPending || e.ids[d.ID] || e.lanes[lane] || e.busy() {
			wake = true
			continue
		}
		t := e.app.CachedDeliveryTarget(d.AppID, d.Bot)
		if !ready(t) {
			wake = true // the round reads the target, fails or probes
			continue
		}
		if e.full(bot, t) {
			// Its bot's requests in flight end with posted, which
			// starts it from the waiting list or wakes a round.
			e.wait(bot, d)
			continue
		}
		claimed = append(claimed, e.takeOffered(d, t))
	}
	e.wg.Add(len(claimed)) // under mu: Run's wg.Wait comes after attemptCtx is cleared
	e.mu.Unlock()
	e.start(ctx, claimed)
	if wake {
		e.Wake()
	}
}

// busy reports whether the engine can start no attempt: as many requests
// in flight as Workers, or too many attempts waiting for their record.
// e.mu is held.
func (e *Engine) busy() bool { return e.total >= e.cfg.Workers || e.recordingFull() }

// recordingFull reports whether as many attempts wait for their record as
// the engine lets pile up. e.mu is held.
func (e *Engine) recordingFull() bool { return e.recording >= recordingPerWorker*e.cfg.Workers }

// takeOffered takes a delivery that a round has not read (Offer, a freed
// slot): the running round, whose snapshot predates it, must skip it
// (offered). e.mu is held.
func (e *Engine) takeOffered(d *chat.Delivery, t *app.DeliveryTarget) claim {
	e.offered[d.ID] = true
	return e.take(claim{d: *d, target: t})
}

// maxWaitingPerBot bounds a bot's waiting list (Engine.waiting); what
// does not fit is left to a round.
const maxWaitingPerBot = 64

// wait puts an offered delivery whose bot is at its cap on the bot's
// waiting list; when the list is full, the bot's next freed slot wakes a
// round instead (heldBots). e.mu is held.
func (e *Engine) wait(bot botKey, d *chat.Delivery) {
	if len(e.waiting[bot]) >= maxWaitingPerBot {
		e.heldBots[bot] = true
		return
	}
	dc := *d // the caller's delivery is not kept
	e.waiting[bot] = append(e.waiting[bot], &dc)
	e.waitingIDs[d.ID] = true
}

// next takes the first delivery on the bot's waiting list that can start
// now, if any, and reports whether the rest must be left to a round (the
// bot's cached target is gone or not healthy: a round reads it again).
// e.mu is held.
func (e *Engine) next(bot botKey) (c claim, ok, wake bool) {
	q := e.waiting[bot]
	defer func() {
		if len(q) == 0 {
			delete(e.waiting, bot)
		} else {
			e.waiting[bot] = q
		}
	}()
	for len(q) > 0 && !e.busy() {
		d := q[0]
		if !e.waitingIDs[d.ID] { // a round took it
			q = q[1:]
			continue
		}
		t := e.app.CachedDeliveryTarget(d.AppID, d.Bot)
		if !ready(t) {
			for _, d := range q {
				delete(e.waitingIDs, d.ID)
			}
			q = nil
			return claim{}, false, true
		}
		if e.full(bot, t) {
			return claim{}, false, false
		}
		q = q[1:]
		delete(e.waitingIDs, d.ID)
		if lane, _ := keysOf(d); e.ids[d.ID] || e.lanes[lane] {
			continue
		}
		return e.takeOffered(d, t), true, false
	}
	return claim{}, false, len(q) > 0
}

// ready reports whether a bot's cached target (nil: not cached) lets an
// attempt start without a round: the bot is enabled and healthy. Anything
// else (a probe due, a disabled bot's deliveries to fail, a target to
// read) is a round's work.
func ready(t *app.DeliveryTarget) bool {
	return t != nil && t.Enabled && t.Health == chat.HealthHealthy
}

// full reports whether the bot has as many requests in flight as its
// target allows. e.mu is held.
func (e *Engine) full(bot botKey, t *app.DeliveryTarget) bool {
	limit := e.cfg.MaxInFlight
	if t.MaxInFlight > 0 {
		limit = t.MaxInFlight
	}
	return e.inflight[bot] >= limit
}

// take counts a claim's delivery, lane and slots as in flight, until
// release gives them back, and returns it. e.mu is held.
func (e *Engine) take(c claim) claim {
	lane, bot := keysOf(&c.d)
	e.lanes[lane] = true
	e.ids[c.d.ID] = true
	delete(e.waitingIDs, c.d.ID)
	e.inflight[bot]++
	e.total++
	if c.probe {
		e.probing[bot] = true
	}
	return c
}

// claim is one delivery taken for an attempt.
type claim struct {
	d      chat.Delivery
	target *app.DeliveryTarget
	probe  bool
}

// posted gives back a claim's request slots (its bot's and the engine's)
// once the bot's answer is in: the bot is no longer busy with it, though
// its lane stays taken until the attempt is recorded (release). It wakes
// the loop when due deliveries wait for a slot (held).
func (e *Engine) posted(c claim) {
	e.mu.Lock()
	e.releases++
	_, bot := keysOf(&c.d)
	if e.inflight[bot]--; e.inflight[bot] <= 0 {
		delete(e.inflight, bot)
	}
	e.total--
	e.recording++
	wake := e.held || e.heldBots[bot]
	var started claim
	ok := false
	if e.attemptCtx != nil {
		var w bool
		started, ok, w = e.next(bot)
		wake = wake || w
		if ok {
			e.wg.Add(1) // under mu: Run's wg.Wait comes after attemptCtx is cleared
		}
	}
	ctx := e.attemptCtx
	e.mu.Unlock()
	if ok {
		e.start(ctx, []claim{started})
	}
	if wake {
		e.Wake()
	}
}

// release returns a claim's lane once its attempt is recorded, and wakes
// the loop when that may have made something due: next (the attempt's
// report), due deliveries left waiting for a slot by the last round
// (held), a probe's end. A lane without a backlog freed on one node wakes
// nobody: new deliveries wake the engine themselves. Nodes that share a
// database always look: other nodes' deliveries do not wake this one.
func (e *Engine) release(c claim, next bool) {
	e.mu.Lock()
	lane, _ := keysOf(&c.d)
	delete(e.lanes, lane)
	next = e.ended(c) || next || e.clustered || e.held
	e.mu.Unlock()
	if next {
		e.Wake()
	}
}

// ended gives back what a claim holds until its attempt is recorded but
// its lane (a record slot, its delivery id, a probe) and reports whether
// it was a probe, whose end may make its bot's other deliveries due.
// release frees the lane too; handOn passes it on. e.mu is held.
func (e *Engine) ended(c claim) (probe bool) {
	e.releases++
	delete(e.ids, c.d.ID)
	e.recording--
	if c.probe {
		_, bot := keysOf(&c.d)
		delete(e.probing, bot)
	}
	return c.probe
}

// jitter is the random source of the retry policy's full jitter.
func jitter() float64 { return rand.Float64() }
