package cluster

import (
	"context"
	"log/slog"
	"time"

	"parley/internal/store"
)

// Limits of the fan-out.
const (
	// SafetyPoll bounds how long a lost notification delays events: the
	// outbox is read at least this often.
	SafetyPoll = time.Second
	// GapWait is how long a missing outbox id is waited for before it is
	// taken for a rolled-back transaction (see doc.go).
	GapWait = 10 * time.Second
	// readBatch bounds the rows one read returns; the next read continues.
	readBatch = 1000
	// maxGapIDs bounds the missing ids remembered at once: a jump of the
	// sequence wider than this (a huge rollback) is not waited for.
	maxGapIDs = 10000
	// reconnect backoff bounds.
	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// Publisher is the local hub.
type Publisher interface {
	Publish(appID string, uids []string, frame []byte)
	PublishApp(appID string, frame []byte)
}

// Fanout publishes the outbox to this node's connections.
type Fanout struct {
	db  *store.DB
	pub Publisher
	log *slog.Logger
	now func() time.Time

	low       int64               // every id <= low is published or given up
	published map[int64]bool      // ids > low already published
	gaps      map[int64]time.Time // missing ids in (low, high): first noticed
	high      int64               // the highest id published
}

// Open returns a Fanout of db's outbox to pub that starts after the
// newest event present now: call it before the node serves, so that no
// event of a write it acknowledges falls before the start.
func Open(ctx context.Context, db *store.DB, pub Publisher, log *slog.Logger) (*Fanout, error) {
	last, err := db.LastRealtimeEventID(ctx)
	if err != nil {
		return nil, err
	}
	return &Fanout{db: db, pub: pub, log: log, now: time.Now, published: map[int64]bool{}, gaps: map[int64]time.Time{},
		low: last, high: last}, nil
}

// Run listens and publishes until ctx ends.
func (f *Fanout) Run(ctx context.Context) error {
	backoff := backoffMin
	for ctx.Err() == nil {
		err := f.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		f.log.Warn("cluster: real-time listener lost; reconnecting", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(backoff*2, backoffMax)
		if err == nil {
			backoff = backoffMin
		}
	}
	return nil
}

// listen holds one listening connection until it fails.
func (f *Fanout) listen(ctx context.Context) error {
	l, err := f.db.Listen(ctx)
	if err != nil {
		return err
	}
	defer l.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the connection is done either way
	for {
		// Read after LISTEN took effect: nothing committed since is missed.
		if err := f.runOnce(ctx); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, SafetyPoll)
		err := l.Wait(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil
		}
		if err != nil && wctx.Err() == nil {
			return err // the connection failed
		}
	}
}

// runOnce reads and publishes the outbox rows not published yet.
func (f *Fanout) runOnce(ctx context.Context) error {
	after := f.low
	for {
		evs, err := f.db.RealtimeEventsAfter(ctx, after, readBatch)
		if err != nil {
			return err
		}
		now := f.now()
		for _, ev := range evs {
			after = ev.ID
			if f.published[ev.ID] {
				continue
			}
			if ev.ToApp {
				f.pub.PublishApp(ev.AppID, ev.Frame)
			} else {
				f.pub.Publish(ev.AppID, ev.UIDs, ev.Frame)
			}
			f.published[ev.ID] = true
			delete(f.gaps, ev.ID)
			if ev.ID > f.high {
				if ev.ID-f.high <= maxGapIDs {
					for id := f.high + 1; id < ev.ID; id++ {
						f.gaps[id] = now
					}
				}
				f.high = ev.ID
			}
		}
		f.advance(now)
		if len(evs) < readBatch {
			return nil
		}
	}
}

// advance moves the low-water mark to just below the oldest gap still
// waited for (or to high when there is none) and forgets what lies below.
func (f *Fanout) advance(now time.Time) {
	low := f.high
	for id, since := range f.gaps {
		if now.Sub(since) >= GapWait {
			delete(f.gaps, id)
			continue
		}
		low = min(low, id-1)
	}
	if low <= f.low {
		return
	}
	for id := range f.published {
		if id <= low {
			delete(f.published, id)
		}
	}
	f.low = low
}
