package app

import (
	"sync"
	"time"
)

// Bounds of the API key cache.
const (
	// keyCacheTTL bounds how long a key stays valid in the cache without a
	// database read. Changes made through this process (update, delete)
	// take effect at once; the TTL only bounds how long a change made to
	// the database by another process would go unseen.
	keyCacheTTL = 10 * time.Second
	// keyCacheMax bounds the cached keys; when full, the cache starts over.
	keyCacheMax = 10000
)

// keyCache remembers valid API keys (by app and key hash) with their
// scope, so that a request does not need a read transaction to
// authenticate. Only successful lookups are kept: an unknown key always
// reads the database. An update or delete of a key empties the cache
// after its commit, and bumps a generation so that a lookup that read the
// database before that commit cannot put its stale answer back.
type keyCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[keyCacheKey]keyCacheEntry
}

type keyCacheKey struct{ appID, hash string }

type keyCacheEntry struct {
	scope   string
	expires time.Time
}

func newKeyCache() *keyCache { return &keyCache{m: make(map[keyCacheKey]keyCacheEntry)} }

// get returns the scope of a cached, unexpired key.
func (c *keyCache) get(appID, hash string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[keyCacheKey{appID, hash}]
	if !ok || now.After(e.expires) {
		return "", false
	}
	return e.scope, true
}

// generation is read before a database lookup and given to put.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches a key found by a lookup that started at generation gen,
// unless the cache was invalidated since.
func (c *keyCache) put(gen uint64, appID, hash, scope string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= keyCacheMax {
		clear(c.m)
	}
	c.m[keyCacheKey{appID, hash}] = keyCacheEntry{scope: scope, expires: now.Add(keyCacheTTL)}
}

// invalidate forgets every key; call it after a key change committed.
func (c *keyCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
