package app

import (
	"context"
	"errors"
	"math"
	"time"

	"parley/internal/chat"
	"parley/internal/store"
)

// Presence: a user is available while it has a WebSocket connection to
// any node (docs/decisions/cluster.md, docs/realtime.md).
//
// The hub of each node reports the user's first connection there and the
// last one closing (SetPresence). On SQLite there is one node, so its
// hub's report is the user's transition and its hub answers reads. On a
// clustered database each node keeps one presence row per user connected
// to it, and a report is a transition of the user only when it changes
// whether any live row exists: the transaction that changes the row reads
// the user's other rows, and SERIALIZABLE makes two nodes' reports for one
// user see each other, so each real transition is published once. A node
// lives while its lease (renewed by its heartbeat, RenewNode) runs; rows of
// a node whose lease ran out do not count, and EndDeadNodes deletes them,
// publishing the transitions that leaves.

// DefaultNodeLease is how long a node counts as alive after its last
// heartbeat: its users' presence outlives a crash by about that long.
const DefaultNodeLease = 30 * time.Second

// errNodeGone is SetPresence's error for a node whose lease ran out and
// whose presence was ended meanwhile: the hub reports again once the
// heartbeat has registered the node anew (and reannounced every user).
var errNodeGone = errors.New("app: presence: this node was taken for dead; it reports again once its lease is renewed")

// SetPresence records that uid's first connection to this node opened
// (online) or its last one closed, at at. When that changes the user's
// status across the installation, it updates lastActiveAt and publishes a
// presence event to the app's connections subscribed to presence. An
// error means nothing
// was recorded: the hub reports again later.
func (a *App) SetPresence(ctx context.Context, appID, uid string, online bool, at time.Time) error {
	if !a.db.Clustered() {
		return a.write(ctx, func(tx *store.Tx, fx *effects) error {
			return a.presenceChanged(ctx, tx, fx, appID, uid, online, at.Unix())
		})
	}
	node := a.cfg.Node
	return a.write(ctx, func(tx *store.Tx, fx *effects) error {
		now := tx.Now.UnixMilli()
		if online {
			// A row is only added by a node whose own row exists, so that
			// ending a dead node (which deletes both) never leaves a row
			// behind: SERIALIZABLE orders this read against that delete.
			alive, err := tx.NodeExists(ctx, node)
			if err != nil {
				return err
			}
			if !alive {
				return errNodeGone
			}
		}
		before, err := tx.Present(ctx, appID, uid, node, now)
		if err != nil {
			return err
		}
		if online {
			err = tx.AddPresence(ctx, appID, uid, node, at.UnixMilli())
		} else {
			err = tx.RemovePresence(ctx, appID, uid, node)
		}
		if err != nil {
			return err
		}
		after, err := tx.Present(ctx, appID, uid, node, now)
		if err != nil || after == before {
			return err
		}
		return a.presenceChanged(ctx, tx, fx, appID, uid, after, at.Unix())
	})
}

// presenceChanged records a transition of uid's status: lastActiveAt, and
// the event for the app's connections subscribed to presence.
func (a *App) presenceChanged(ctx context.Context, tx *store.Tx, fx *effects, appID, uid string, online bool, at int64) error {
	if err := tx.SetLastActive(ctx, appID, uid, at); err != nil {
		return err
	}
	status := chat.StatusOffline
	if online {
		status = chat.StatusAvailable
	}
	fx.publishApp(appID, chat.EventPresence, chat.PresenceChange{UID: uid, Status: status, LastActiveAt: at})
	return nil
}

// presence fills the live status of users: on one node from its hub; in a
// cluster from the presence rows, read in tx, or in a read of its own when
// tx is nil. It is the one place the use cases learn presence.
func (a *App) presence(ctx context.Context, tx *store.Tx, appID string, users ...*chat.User) error {
	if !a.db.Clustered() {
		for _, u := range users {
			u.Status = status(a.pub.Online(appID, u.UID))
		}
		return nil
	}
	if len(users) == 0 {
		return nil
	}
	if tx == nil {
		return a.read(ctx, func(tx *store.Tx) error { return a.presence(ctx, tx, appID, users...) })
	}
	uids := make([]string, 0, len(users))
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if !seen[u.UID] {
			seen[u.UID] = true
			uids = append(uids, u.UID)
		}
	}
	present, err := tx.PresentUIDs(ctx, appID, uids, a.cfg.Node, tx.Now.UnixMilli())
	if err != nil {
		return err
	}
	for _, u := range users {
		u.Status = status(present[u.UID])
	}
	return nil
}

func status(online bool) string {
	if online {
		return chat.StatusAvailable
	}
	return chat.StatusOffline
}

// RenewNode extends this node's lease (its heartbeat). It reports whether
// the node had to be registered anew: at its first heartbeat, or when it
// was taken for dead meanwhile and its presence ended, in which case its
// hub must announce its users again.
func (a *App) RenewNode(ctx context.Context) (registered bool, err error) {
	now := time.Now()
	return a.db.RenewNode(ctx, a.cfg.Node, now.UnixMilli(), now.Add(a.cfg.NodeLease).UnixMilli())
}

// EndDeadNodes ends the presence kept by the nodes whose lease ran out:
// their rows are deleted, and each of their users left without a live row
// goes offline (lastActiveAt: the later of the node's last heartbeat and
// the user's arrival there; a presence event), once. It returns how many
// nodes it ended. The node whose maintenance turn it is calls it; it never
// ends itself.
func (a *App) EndDeadNodes(ctx context.Context) (int, error) {
	var dead []store.Node
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		dead, err = tx.ExpiredNodes(ctx, tx.Now.UnixMilli())
		return err
	})
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, n := range dead {
		if n.ID == a.cfg.Node {
			continue // this node lives: its lease lapsed while its heartbeats failed
		}
		ok, err := a.endNode(ctx, n.ID, false)
		if err != nil {
			return ended, err
		}
		if ok {
			ended++
			a.log.Info("app: ended the presence of a node whose lease ran out", "node", n.ID,
				"last_heartbeat", time.UnixMilli(n.HeartbeatAt).UTC().Format(time.RFC3339))
		}
	}
	return ended, nil
}

// LeaveCluster ends this node's presence at shutdown, after its hub has
// closed its connections: what their offline reports left behind goes
// offline now rather than when the lease runs out. No-op on SQLite.
func (a *App) LeaveCluster(ctx context.Context) error {
	if !a.db.Clustered() {
		return nil
	}
	_, err := a.endNode(ctx, a.cfg.Node, true)
	return err
}

// endNode deletes node's row (only if its lease ran out, unless self) and
// its presence rows, publishing the transitions that leaves.
func (a *App) endNode(ctx context.Context, node string, self bool) (bool, error) {
	var ended bool
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		now := tx.Now.UnixMilli()
		expiredBefore := now + 1
		if self {
			expiredBefore = math.MaxInt64
		}
		n, ok, err := tx.DeleteNode(ctx, node, expiredBefore)
		if err != nil || !ok {
			ended = false
			return err // renewed meanwhile (or ended by another node)
		}
		ended = true
		rows, err := tx.DeleteNodePresence(ctx, node)
		if err != nil {
			return err
		}
		for _, r := range rows {
			present, err := tx.Present(ctx, r.AppID, r.UID, "", now)
			if err != nil {
				return err
			}
			if present {
				continue
			}
			last := max(n.HeartbeatAt, r.Since)
			if self {
				last = now
			}
			if err := a.presenceChanged(ctx, tx, fx, r.AppID, r.UID, false, last/1000); err != nil {
				return err
			}
		}
		return nil
	})
	return ended, err
}
