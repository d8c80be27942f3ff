package app

import (
	"context"
	"sync"
	"time"

	"parley/internal/store"
)

// DeliveryTarget is what the engine needs of a bot to deliver to it. It
// is shared between attempts: read-only.
type DeliveryTarget struct {
	URL          string
	UseBasicAuth bool
	Username     string
	Password     string
	Secrets      []string // current first; the previous one during a rotation window
	MaxInFlight  int
	Timeout      time.Duration
	Enabled      bool
	// Health is the bot's health state (chat.Health*). Only the state is
	// kept current in the cache; a healthy bot's times move without it.
	Health string
}

// targetCache keeps bots' delivery targets on a single node, where every
// change of a bot is a write of this process: an entry holds while
// store.DB.BotsVersion is the one it was read at, and, during a secret
// rotation, until the previous secret expires. The engine reads a bot's
// target for every round that starts an attempt to it; with the cache a
// busy bot's row is read again only when a bot changed.
type targetCache struct {
	mu sync.Mutex
	m  map[store.BotKey]cachedTarget
}

type cachedTarget struct {
	t       *DeliveryTarget
	version uint64
	until   int64 // ms; 0: no time limit
}

// get returns the cached target of bot, or nil.
func (c *targetCache) get(bot store.BotKey, version uint64, nowMs int64) *DeliveryTarget {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[bot]
	switch {
	case !ok:
		return nil
	case e.version != version || e.until != 0 && nowMs >= e.until:
		delete(c.m, bot)
		return nil
	}
	return e.t
}

func (c *targetCache) put(bot store.BotKey, e cachedTarget) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[store.BotKey]cachedTarget{}
	}
	c.m[bot] = e
}

// DeliveryTarget returns the bot's endpoint configuration.
func (a *App) DeliveryTarget(ctx context.Context, appID, uid string) (*DeliveryTarget, error) {
	cache := !a.db.Clustered()
	key := store.BotKey{App: appID, Bot: uid}
	version := a.db.BotsVersion() // before the read: a change during it makes the entry stale
	if cache {
		if t := a.targets.get(key, version, a.db.Now().UnixMilli()); t != nil {
			return t, nil
		}
	}
	var out *DeliveryTarget
	var until int64
	err := a.read(ctx, func(tx *store.Tx) error {
		b, err := tx.Bot(ctx, appID, uid)
		if err != nil {
			return err
		}
		t := &DeliveryTarget{URL: b.WebhookURL, UseBasicAuth: b.UseBasicAuth, Username: b.Username, Password: b.Password,
			Secrets: []string{b.Secret}, MaxInFlight: b.MaxInFlight, Timeout: time.Duration(b.TimeoutSeconds) * time.Second,
			Enabled: b.Enabled, Health: b.Health.State}
		if b.PreviousSecret != "" && !rotationExpired(b, tx.Now) {
			t.Secrets = append(t.Secrets, b.PreviousSecret)
			until = b.PreviousSecretUntil + 1 // rotationExpired from then on
		}
		out = t
		return nil
	})
	if err == nil && cache {
		a.targets.put(key, cachedTarget{t: out, version: version, until: until})
	}
	return out, err
}

// CachedDeliveryTarget returns the bot's target if the cache holds it
// (a single node only), without reading the database; nil otherwise.
func (a *App) CachedDeliveryTarget(appID, uid string) *DeliveryTarget {
	if a.db.Clustered() {
		return nil
	}
	return a.targets.get(store.BotKey{App: appID, Bot: uid}, a.db.BotsVersion(), a.db.Now().UnixMilli())
}
