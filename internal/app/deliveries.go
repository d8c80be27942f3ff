package app

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"parley/internal/chat"
	"parley/internal/store"
	"parley/internal/webhook"
)

// This file holds the use cases of the delivery engine (internal/dispatch)
// and of the delivery log API. The engine decides when and how to POST;
// every change it makes to the data goes through here.

// NextDueAt is the earliest time after now at which a pending delivery
// or a failing bot's probe comes due (zero time when nothing will; see
// store.NextDueAt).
func (a *App) NextDueAt(ctx context.Context, now time.Time) (time.Time, error) {
	var ms int64
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		ms, err = tx.NextDueAt(ctx, now.UnixMilli())
		return err
	})
	if ms == 0 {
		return time.Time{}, err
	}
	return time.UnixMilli(ms), err
}

// ClaimDeliveries leases due lane heads to a node (store.ClaimDeliveries):
// one write, so that nodes sharing the database never claim one lane or
// exceed a bot's cap together.
//
// On one node (SQLite) nothing is leased: fl is what this node has in
// flight, and the due heads are read in a read transaction, off the
// writer and without a commit to wait for. Leases exist for nodes that
// share a database; a single node's are cleared at its start anyway.
// held then tells the due heads left out for want of a slot
// (store.DueLaneHeads); in a cluster it is empty (nodes look again at every
// attempt's end anyway).
func (a *App) ClaimDeliveries(ctx context.Context, now time.Time, c store.Claim, fl *store.InFlight) (due []store.DueDelivery, held store.Held, err error) {
	if !a.db.Clustered() {
		err = a.read(ctx, func(tx *store.Tx) error {
			var err error
			due, held, err = tx.DueLaneHeads(ctx, now.UnixMilli(), c.DefaultCap, c.Limit, fl)
			return err
		})
		return due, held, err
	}
	err = a.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		due, err = tx.ClaimDeliveries(ctx, now.UnixMilli(), c)
		return err
	})
	return due, store.Held{}, err
}

// ReleaseDeliveries ends a node's leases on deliveries it claimed but does
// not attempt now (none on one node: see ClaimDeliveries).
func (a *App) ReleaseDeliveries(ctx context.Context, owner string, ids []int64) error {
	if !a.db.Clustered() {
		return nil
	}
	return a.db.Write(ctx, func(tx *store.Tx) error { return tx.ReleaseDeliveries(ctx, owner, ids) })
}

// Clustered reports whether other nodes share the database (PostgreSQL).
func (a *App) Clustered() bool { return a.db.Clustered() }

// ReleaseAllLeases frees leases left by a previous process of this node.
// On a database several nodes share, leases are those of live nodes too:
// they are left to expire (a dead node's after Lease).
func (a *App) ReleaseAllLeases(ctx context.Context) error {
	if a.db.Clustered() {
		return nil
	}
	return a.db.Write(ctx, func(tx *store.Tx) error { return tx.ClearLeases(ctx) })
}

// MaintenanceTurn reports whether this node runs the periodic work now
// (once per cluster: store.MaintenanceTurn).
func (a *App) MaintenanceTurn(ctx context.Context) (bool, error) { return a.db.MaintenanceTurn(ctx) }

// PruneRealtimeEvents deletes outbox rows older than keep.
func (a *App) PruneRealtimeEvents(ctx context.Context, keep time.Duration) (int, error) {
	var n int
	err := a.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.DeleteRealtimeEventsBefore(ctx, tx.Now.Add(-keep).UnixMilli())
		return err
	})
	return n, err
}

// AttemptReport is what the engine observed in one attempt.
type AttemptReport struct {
	Attempt chat.Attempt
	Outcome string // chat.Outcome*
	// NextAttemptAt is when to try again (Outcome retryable and the window
	// not exhausted); zero means the delivery ends.
	NextAttemptAt time.Time
	// ResponseBody is the (capped) body of a 2xx answer, checked for an
	// inline reply.
	ResponseBody []byte
	// Probe tells that the attempt was the probe of a failing bot.
	Probe bool
}

// CompleteAttempt records an attempt, moves the delivery and the bot's
// health, and posts an inline reply found in a 2xx answer, all in one
// transaction: the reply exists once even if the attempt is recorded
// again after a crash.
//
// It reports whether the attempt made work due that the engine may not know
// of: the delivery is pending still (a retry), its lane's next delivery
// became the head (successor, its id), or the bot's health state changed
// (a failing bot's other deliveries wait on it).
func (a *App) CompleteAttempt(ctx context.Context, d *chat.Delivery, policy chat.HealthPolicy, r AttemptReport) (next bool, successor int64, err error) {
	// Deferred: the record may wait a moment for another write to commit
	// with; its request slots are free already and only its lane waits.
	err = a.writeDeferred(ctx, func(tx *store.Tx, fx *effects) error {
		next, successor = false, 0 // a retried function starts clean
		was, err := tx.BotHealth(ctx, d.AppID, d.Bot)
		if chat.KindOf(err) == chat.KindNotFound {
			return nil // the bot was deleted meanwhile, with its deliveries
		}
		if err != nil {
			return err
		}
		state := chat.DeliveryFailed
		switch {
		case r.Outcome == chat.OutcomeSuccess:
			state = chat.DeliverySucceeded
		case r.Outcome == chat.OutcomeRetryable && !r.NextAttemptAt.IsZero():
			state = chat.DeliveryPending
			r.Attempt.NextAttemptAt = r.NextAttemptAt.UnixMilli()
		}
		lane, err := tx.RecordAttempt(ctx, d, store.AttemptResult{Attempt: r.Attempt, State: state, NextAttemptAt: r.Attempt.NextAttemptAt})
		if err != nil {
			return err
		}
		next = lane != 0
		if lane != d.ID {
			successor = lane
		}
		reason := r.Attempt.ErrorClass
		if r.Attempt.Error != "" {
			reason += ": " + r.Attempt.Error
		}
		// A busy healthy bot's health changes once a second at most (its
		// last success, in seconds): most attempts leave it as it was, and
		// its row is not written.
		if h := policy.Next(was, r.Outcome, reason, r.Probe, tx.Now); h != was {
			next = next || h.State != was.State
			if err := tx.SetBotHealth(ctx, d.AppID, d.Bot, store.BotHealthUpdate{State: h.State, Reason: h.Reason,
				ConsecutiveFails: h.ConsecutiveFails, LastSuccessAt: h.LastSuccessAt, LastFailureAt: h.LastFailureAt,
				FailingSince: h.FailingSince, NextProbeAt: h.NextProbeAt, ProbeInterval: h.ProbeInterval, Disable: h.Disable, From: was.State}); err != nil {
				return err
			}
		}
		if r.Outcome == chat.OutcomeSuccess && d.Kind == chat.DeliveryKindMessage {
			return a.inlineReply(ctx, tx, fx, d, r.ResponseBody)
		}
		return nil
	})
	return next, successor, err
}

// DueHead returns the delivery id when it is its lane's head and due now,
// with its payload, for the engine to attempt it right after the lane's
// previous one; nil otherwise.
func (a *App) DueHead(ctx context.Context, id int64) (*chat.Delivery, error) {
	var d *chat.Delivery
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		d, err = tx.DueHead(ctx, id, tx.Now.UnixMilli())
		return err
	})
	return d, err
}

// InlineReply is the shape a bot may answer a callback with to reply at
// once, without a second request (docs/decisions/inline-reply.md):
//
//	{"reply": {"text": "…"}}
//	{"reply": {"category": "custom", "type": "card", "data": {"customData": {…}}}}
type InlineReply struct {
	Reply *struct {
		Text     *string         `json:"text"`
		Category string          `json:"category"`
		Type     string          `json:"type"`
		Data     json.RawMessage `json:"data"`
		Tags     []string        `json:"tags"`
	} `json:"reply"`
}

// inlineReply posts the reply carried by a 2xx answer, if any, as the bot,
// in the delivery's conversation and thread. It is posted once per
// delivery: a delivery that already has one is skipped.
func (a *App) inlineReply(ctx context.Context, tx *store.Tx, fx *effects, d *chat.Delivery, body []byte) error {
	trimmed := strings.TrimSpace(string(body))
	if !strings.HasPrefix(trimmed, "{") || !strings.Contains(trimmed, `"reply"`) {
		return nil
	}
	var ir InlineReply
	if json.Unmarshal([]byte(trimmed), &ir) != nil || ir.Reply == nil {
		a.log.Info("app: ignoring a malformed inline reply", "bot", d.Bot, "delivery", d.ID)
		return nil
	}
	if prev, err := tx.ReplyMessageOf(ctx, d.ID); err != nil || prev != 0 {
		return err
	}
	in := SendInput{Category: ir.Reply.Category, Type: ir.Reply.Type, Data: ir.Reply.Data, Tags: ir.Reply.Tags,
		ParentID: FlexID(d.ParentID), MUID: "reply-" + d.WebhookID}
	if ir.Reply.Text != nil {
		data, err := json.Marshal(map[string]string{"text": *ir.Reply.Text})
		if err != nil {
			return err
		}
		in.Data = data
	}
	draft, err := in.draft()
	if err != nil {
		a.log.Info("app: ignoring an invalid inline reply", "bot", d.Bot, "delivery", d.ID, "err", err)
		return nil
	}
	kind, x, y, ok := chat.ParseConversationID(d.ConversationID)
	if !ok {
		return nil
	}
	draft.ReceiverType = kind
	switch {
	case kind == chat.ReceiverGroup:
		draft.Receiver = x
	case x == d.Bot:
		draft.Receiver = y
	default:
		draft.Receiver = x
	}
	bot, err := tx.ActiveUser(ctx, d.AppID, d.Bot)
	if err != nil {
		return nil // the bot's user is gone: nothing to reply as
	}
	// sendTx checks every rule before it writes, so a reply the rules
	// refuse (the human blocked the bot, the bot left the group) leaves
	// nothing behind and the attempt's record stands.
	msg, err := a.sendTx(ctx, tx, fx, Caller{AppID: d.AppID, Origin: OriginBot}, bot, draft)
	if err != nil {
		if chat.KindOf(err) != chat.KindInternal {
			a.log.Info("app: inline reply refused", "bot", d.Bot, "delivery", d.ID, "err", err)
			return nil
		}
		return err
	}
	_, err = tx.SetReplyMessage(ctx, d.ID, msg.ID)
	return err
}

// FailDelivery ends a delivery without an attempt (its bot is disabled).
func (a *App) FailDelivery(ctx context.Context, id int64, class, reason string) error {
	return a.db.Write(ctx, func(tx *store.Tx) error { return tx.FailDelivery(ctx, id, class, reason, tx.Now.UnixMilli()) })
}

// ExpireDeliveries fails pending deliveries queued longer than maxAge ago.
func (a *App) ExpireDeliveries(ctx context.Context, maxAge time.Duration) (int, error) {
	var n int
	err := a.db.Write(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.ExpireDeliveries(ctx, tx.Now.Add(-maxAge).UnixMilli(), tx.Now.UnixMilli())
		return err
	})
	return n, err
}

// QueueStats reports pending deliveries and the age of the oldest due one.
func (a *App) QueueStats(ctx context.Context) (pending int, oldestDue time.Duration, err error) {
	err = a.read(ctx, func(tx *store.Tx) error {
		var oldest int64
		pending, oldest, err = tx.QueueStats(ctx, tx.Now.UnixMilli())
		if oldest > 0 {
			oldestDue = tx.Now.Sub(time.UnixMilli(oldest))
		}
		return err
	})
	return pending, oldestDue, err
}

// ListDeliveries returns a page of a bot's delivery log.
func (a *App) ListDeliveries(ctx context.Context, c Caller, uid string, f store.DeliveryFilter) ([]chat.Delivery, int, error) {
	uid = chat.NormalizeID(uid)
	out := []chat.Delivery{}
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		if _, err := tx.Bot(ctx, c.AppID, uid); err != nil {
			return err
		}
		rows, n, err := tx.ListDeliveries(ctx, c.AppID, uid, f)
		out, total = append(out, rows...), n
		return err
	})
	return out, total, err
}

// Delivery returns one delivery with its attempts and payload.
func (a *App) Delivery(ctx context.Context, c Caller, uid string, id int64) (*chat.Delivery, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.Delivery
	err := a.read(ctx, func(tx *store.Tx) error {
		if _, err := tx.Bot(ctx, c.AppID, uid); err != nil {
			return err
		}
		var err error
		out, err = tx.Delivery(ctx, c.AppID, uid, id)
		return err
	})
	return out, err
}

// RetryDelivery queues one delivery again, now (whatever its state), with
// the same webhook-id.
func (a *App) RetryDelivery(ctx context.Context, c Caller, uid string, id int64) (*chat.Delivery, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.Delivery
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		if _, err := tx.Bot(ctx, c.AppID, uid); err != nil {
			return err
		}
		if err := tx.RequeueDelivery(ctx, c.AppID, uid, id, tx.Now.UnixMilli()); err != nil {
			return err
		}
		fx.deliveries = true
		var err error
		out, err = tx.Delivery(ctx, c.AppID, uid, id)
		return err
	})
	return out, err
}

// ReplayInput selects the deliveries to replay.
type ReplayInput struct {
	State string `json:"state"`
	Since *int64 `json:"since"` // Unix seconds
}

// ReplayDeliveries queues again every delivery of the bot in a state
// (default failed) created since a time, and returns how many.
func (a *App) ReplayDeliveries(ctx context.Context, c Caller, uid string, in ReplayInput) (int, error) {
	uid = chat.NormalizeID(uid)
	state := chat.DeliveryFailed
	if in.State != "" {
		s, ok := chat.ParseDeliveryState(in.State)
		if !ok || s == chat.DeliveryPending {
			return 0, chat.Invalid("state", "The state must be failed or succeeded.")
		}
		state = s
	}
	if in.Since == nil || *in.Since < 0 {
		return 0, chat.Invalid("since", "The since field (Unix seconds) is required.")
	}
	var n int
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		if _, err := tx.Bot(ctx, c.AppID, uid); err != nil {
			return err
		}
		var err error
		n, err = tx.RequeueDeliveries(ctx, c.AppID, uid, state, *in.Since*1000, tx.Now.UnixMilli())
		fx.deliveries = n > 0
		return err
	})
	return n, err
}

// TestBot queues a signed test event for the bot: trigger "test", in a
// lane of its own, delivered like any message (even to a disabled bot, so
// an operator can check an endpoint before enabling it).
func (a *App) TestBot(ctx context.Context, c Caller, uid string) (*chat.Delivery, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.Delivery
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		if _, err := tx.Bot(ctx, c.AppID, uid); err != nil {
			return err
		}
		ap, err := tx.App(ctx, c.AppID)
		if err != nil {
			return err
		}
		body, err := chat.Marshal(map[string]any{"trigger": "test", "appId": c.AppID, "region": ap.Region,
			"chatAPIVersion": ChatAPIVersion, "bot": uid, "data": map[string]any{"message": "parley test event", "sentAt": tx.Unix()}})
		if err != nil {
			return err
		}
		seq, err := tx.NextBotSeq(ctx, c.AppID, uid)
		if err != nil {
			return err
		}
		now := tx.Now.UnixMilli()
		d := &chat.Delivery{AppID: c.AppID, Bot: uid, ConversationID: "test", Seq: seq, WebhookID: webhook.NewMessageID(),
			Kind: chat.DeliveryKindTest, State: chat.DeliveryPending, NextAttemptAt: now, CreatedAt: now, Payload: body}
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
		fx.deliveries = true
		out = d
		return nil
	})
	return out, err
}
