package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"parley/internal/app"
)

// Announcer is the local hub, told to report its users online again when
// the node was taken for dead (its presence ended) and lives on.
type Announcer interface {
	Reannounce(ctx context.Context)
}

// Node keeps this process a live member of the cluster: it renews the
// node's lease (its heartbeat) every third of the lease, has the hub
// announce its users again when the node had been taken for dead, and,
// while it is the node whose maintenance turn it is, ends the presence
// of nodes whose lease ran out (app.EndDeadNodes).
//
// A node ends others only after its own heartbeats have succeeded for a
// whole lease: after an outage of the database every node's lease may
// have run out, and each must get the chance to renew its own before
// another takes it for dead.
type Node struct {
	app   *app.App
	hub   Announcer
	lease time.Duration
	log   *slog.Logger
	now   func() time.Time

	healthySince time.Time // zero while the last heartbeat failed

	// The announcement runs beside the heartbeats: one write per
	// connected user may take longer than a lease, and the heartbeats
	// must go on meanwhile.
	announcing sync.WaitGroup
	announce   chan struct{} // capacity 1: an announcement is running
}

// Join registers this node (its first heartbeat) and returns the loop
// that keeps it registered. Call it before the node serves: presence is
// only recorded for a registered node.
func Join(ctx context.Context, a *app.App, hub Announcer, lease time.Duration, log *slog.Logger) (*Node, error) {
	n := &Node{app: a, hub: hub, lease: lease, log: log, now: time.Now, announce: make(chan struct{}, 1)}
	if _, err := a.RenewNode(ctx); err != nil {
		return nil, err
	}
	n.healthySince = n.now()
	return n, nil
}

// Heartbeat is how often the lease is renewed: three renewals may fail
// (a slow database) before the lease runs out.
func (n *Node) Heartbeat() time.Duration { return n.lease / 3 }

// Run renews the lease and ends dead nodes until ctx ends, then waits for
// an announcement it started.
func (n *Node) Run(ctx context.Context) error {
	defer n.announcing.Wait()
	t := time.NewTicker(n.Heartbeat())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n.runOnce(ctx)
		}
	}
}

// runOnce is one heartbeat.
func (n *Node) runOnce(ctx context.Context) {
	registered, err := n.app.RenewNode(ctx)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Warn("cluster: renew this node's lease", "err", err)
		}
		n.healthySince = time.Time{}
		return
	}
	now := n.now()
	if n.healthySince.IsZero() {
		n.healthySince = now
	}
	if registered {
		// Another node took this one for dead and ended its presence.
		n.log.Warn("cluster: this node's lease had run out and its presence was ended; announcing its users again")
		n.reannounce(ctx)
	}
	if now.Sub(n.healthySince) < n.lease {
		return
	}
	turn, err := n.app.MaintenanceTurn(ctx)
	if err != nil || !turn {
		return
	}
	if _, err := n.app.EndDeadNodes(ctx); err != nil && ctx.Err() == nil {
		n.log.Warn("cluster: end the presence of dead nodes", "err", err)
	}
}

// reannounce has the hub report its users again, in a goroutine of its
// own, unless an announcement is running (it reads the registry after
// the node registered, so it covers this request too).
func (n *Node) reannounce(ctx context.Context) {
	select {
	case n.announce <- struct{}{}:
	default:
		return
	}
	n.announcing.Add(1)
	go func() {
		defer n.announcing.Done()
		defer func() { <-n.announce }()
		n.hub.Reannounce(ctx)
	}()
}
