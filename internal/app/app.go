// Package app holds parley's use cases. It is the one place that opens
// business transactions and runs their after-commit effects (publishing to
// the real-time hub). The REST API, the WebSocket and (later) the dashboard
// and the bot engine all call these use cases; none of them holds business
// rules of its own.
package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"parley/internal/chat"
	"parley/internal/store"
)

// Publisher is the real-time seam: the WebSocket hub in one process, a
// cluster-wide fan-out later.
type Publisher interface {
	// Publish sends an encoded frame to every live connection of the uids.
	Publish(appID string, uids []string, frame []byte)
	// PublishApp sends an encoded frame to every live connection of the
	// app that subscribed to app-wide presence.
	PublishApp(appID string, frame []byte)
	// Online reports whether the user has a live connection (to this
	// process).
	Online(appID, uid string) bool
}

// Config holds the limits the use cases enforce.
type Config struct {
	// MaxAuthTokens is how many tokens a user keeps; creating one more
	// drops the oldest (CometChat: 100 active, rolling).
	MaxAuthTokens int
	// HopLimit bounds bot-to-bot chains (chat.DefaultHopLimit): messages
	// at this hop or beyond are not relayed to bots.
	HopLimit int
	// PlainHTTPAllowed tells whether a callback host is in an
	// operator-allowed range, where http (not only https) is accepted.
	// nil allows none.
	PlainHTTPAllowed func(host string) bool
	// SecretRotationWindow is how long the previous signing secret keeps
	// being used beside the new one after a rotation.
	SecretRotationWindow time.Duration
	// Node names this process among the nodes of a cluster (its presence
	// rows and lease); NodeLease is how long the node counts as alive
	// after its last heartbeat (presence.go). Unused on SQLite.
	Node      string
	NodeLease time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{MaxAuthTokens: 100, HopLimit: chat.DefaultHopLimit, SecretRotationWindow: 24 * time.Hour,
		Node: "node", NodeLease: DefaultNodeLease}
}

// Notifier is told of commits that queued deliveries (the delivery
// engine).
type Notifier interface {
	// Wake makes the engine look for due deliveries.
	Wake()
	// Offer hands over deliveries just committed, each the first in its
	// lane, on a single node: the engine starts those it can at once and
	// wakes itself for the others. It is called on the store's syncer
	// goroutine once the commit is durable (store.Tx.AfterCommit) and
	// must not block.
	Offer(ds []*chat.Delivery)
}

// App runs the use cases.
type App struct {
	db     *store.DB
	pub    Publisher
	notify Notifier
	log    *slog.Logger
	cfg    Config
	keys   *keyCache // valid API keys, see keycache.go
	// targets caches bots' delivery targets on a single node.
	targets targetCache
	// regions caches each app's region (app id → string), which never
	// changes once the app exists; callbacks name it.
	regions sync.Map
}

// New wires the use cases. pub may be nil until the hub exists; SetPublisher
// sets it before serving.
func New(db *store.DB, cfg Config, log *slog.Logger) *App {
	return &App{db: db, cfg: cfg, log: log, pub: nopPublisher{}, notify: nopNotifier{}, keys: newKeyCache()}
}

// SetPublisher connects the real-time hub.
func (a *App) SetPublisher(p Publisher) { a.pub = p }

// SetNotifier connects the delivery engine.
func (a *App) SetNotifier(n Notifier) { a.notify = n }

type nopNotifier struct{}

func (nopNotifier) Wake()                  {}
func (nopNotifier) Offer([]*chat.Delivery) {}

type nopPublisher struct{}

func (nopPublisher) Publish(string, []string, []byte) {}
func (nopPublisher) PublishApp(string, []byte)        {}
func (nopPublisher) Online(string, string) bool       { return false }

// Caller is who makes a request: an app, the key's scope and, with
// onBehalfOf or an auth token, the user acting.
type Caller struct {
	AppID   string
	Scope   string // chat.ScopeFullAccess or chat.ScopeAuthOnly; "" for a user's auth token
	KeyHash string // the API key used, if any
	// OnBehalfOf is the acting user's uid (normalized), or "".
	OnBehalfOf string
	// Origin is where a message comes from, for the bot callback's
	// origin.platform: OriginAPI (default), OriginWebSocket, OriginBot.
	Origin string
}

// Origins of messages.
const (
	OriginAPI       = "API"
	OriginWebSocket = "WEBSOCKET"
	OriginBot       = "BOT"
)

// effects are collected inside a transaction and run only after it commits.
type effects struct {
	events     []event
	deliveries bool             // deliveries were queued: wake the engine
	offers     []*chat.Delivery // new deliveries first in their lanes: offer them to the engine
}

type event struct {
	appID string
	typ   string
	data  any
	uids  []string
	toApp bool // for the app's connections subscribed to presence, not uids
}

func (fx *effects) publish(appID, typ string, data any, uids []string) {
	fx.events = append(fx.events, event{appID: appID, typ: typ, data: data, uids: uids})
}

// publishApp queues an event for every connection of the app subscribed
// to presence.
func (fx *effects) publishApp(appID, typ string, data any) {
	fx.events = append(fx.events, event{appID: appID, typ: typ, data: data, toApp: true})
}

// write runs fn in a write transaction, then its effects.
func (a *App) write(ctx context.Context, fn func(tx *store.Tx, fx *effects) error) error {
	return a.writeWith(ctx, a.db.Write, fn)
}

// writeDeferred is write for a write nobody waits for at once
// (store.DB.WriteDeferred).
func (a *App) writeDeferred(ctx context.Context, fn func(tx *store.Tx, fx *effects) error) error {
	return a.writeWith(ctx, a.db.WriteDeferred, fn)
}

func (a *App) writeWith(ctx context.Context, write func(context.Context, func(*store.Tx) error) error, fn func(tx *store.Tx, fx *effects) error) error {
	var fx effects
	clustered := a.db.Clustered()
	err := write(ctx, func(tx *store.Tx) error {
		fx = effects{} // a retried function starts clean
		if err := fn(tx, &fx); err != nil {
			return err
		}
		if clustered {
			// Other nodes take deliveries too: wake this one's engine
			// to claim them with the others.
			fx.deliveries = fx.deliveries || len(fx.offers) > 0
			fx.offers = nil
			return a.outbox(ctx, tx, &fx)
		}
		if offers := fx.offers; len(offers) > 0 {
			// Before any other write, so before any attempt can end:
			// see dispatch.Engine.Offer.
			tx.AfterCommit(func() { a.notify.Offer(offers) })
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.apply(&fx)
	return nil
}

// outbox moves the events of a write into the real-time outbox, in its
// transaction: on a database several nodes share, each node's fan-out
// (internal/cluster) publishes them to its own connections, this node's
// included, once the transaction commits.
func (a *App) outbox(ctx context.Context, tx *store.Tx, fx *effects) error {
	evs := make([]store.RealtimeEvent, 0, len(fx.events))
	for _, ev := range fx.events {
		frame, err := chat.EncodeFrame(ev.typ, ev.data)
		if err != nil {
			a.log.Error("app: encode event", "type", ev.typ, "err", err)
			continue
		}
		evs = append(evs, store.RealtimeEvent{AppID: ev.appID, UIDs: ev.uids, ToApp: ev.toApp, Frame: frame})
	}
	fx.events = nil // published by the fan-out, not by apply
	return tx.InsertRealtimeEvents(ctx, evs)
}

// read runs fn in a read transaction.
func (a *App) read(ctx context.Context, fn func(tx *store.Tx) error) error {
	return a.db.Read(ctx, fn)
}

func (a *App) apply(fx *effects) {
	if fx.deliveries {
		a.notify.Wake()
	}
	for _, ev := range fx.events {
		frame, err := chat.EncodeFrame(ev.typ, ev.data)
		if err != nil {
			a.log.Error("app: encode event", "type", ev.typ, "err", err)
			continue
		}
		if ev.toApp {
			a.pub.PublishApp(ev.appID, frame)
		} else {
			a.pub.Publish(ev.appID, ev.uids, frame)
		}
	}
}

// errNoAccess is the error for a key or user without the right.
func errNoAccess(format string, args ...any) error {
	return chat.Errorf(chat.KindForbidden, "AUTH_ERR_NO_ACCESS", format, args...)
}
