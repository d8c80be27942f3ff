package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"parley/internal/chat"
)

const deliveryColumns = `id, app_id, bot_uid, message_id, conversation_id, parent_id, hop, seq, webhook_id, kind, state, attempts,
	next_attempt_at, queued_at, lease_until, last_status, last_error_class, last_error, reply_message_id, payload, created_at, completed_at`

// deliveryColumnsPrefixed is deliveryColumns for the alias d.
var deliveryColumnsPrefixed = prefixColumns("d.", deliveryColumns)

func scanDelivery(row interface{ Scan(...any) error }) (*chat.Delivery, error) {
	d := &chat.Delivery{}
	var payload string
	err := row.Scan(&d.ID, &d.AppID, &d.Bot, &d.MessageID, &d.ConversationID, &d.ParentID, &d.Hop, &d.Seq, &d.WebhookID, &d.Kind,
		&d.State, &d.Attempts, &d.NextAttemptAt, &d.QueuedAt, &d.LeaseTill, &d.LastStatus, &d.LastErrorClass, &d.LastError,
		&d.ReplyMessageID, &payload, &d.CreatedAt, &d.CompletedAt)
	d.Payload = json.RawMessage(payload)
	return d, err
}

func errDeliveryNotFound(id int64) error {
	return chat.Errorf(chat.KindNotFound, "ERR_DELIVERY_NOT_FOUND", "The delivery %d does not exist for this bot.", id)
}

// InsertDelivery queues a delivery; it sets d.ID, d.QueuedAt and d.Head. A
// pending delivery is its lane's head when the lane has no other pending
// delivery.
//
// The lane head flag (column head) marks the oldest pending delivery of
// each lane, the only one the engine may attempt (DueLaneHeads reads heads
// only). Every statement that moves a delivery into or out of the pending
// state keeps it: InsertDelivery sets it, a delivery leaving pending
// passes it on (promoteLaneHead), requeues recompute the lanes they touch
// (fixLaneHeads), and ExpireDeliveries, run by maintenance, repairs any
// lane left without a head.
func (tx *Tx) InsertDelivery(ctx context.Context, d *chat.Delivery) error {
	var head int
	err := tx.q.QueryRowContext(ctx, `INSERT INTO deliveries (app_id, bot_uid, message_id, conversation_id, parent_id, hop, seq, webhook_id,
		kind, state, next_attempt_at, queued_at, payload, created_at, head) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
		CASE WHEN ? = 'pending' AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.app_id = ? AND x.bot_uid = ?
			AND x.conversation_id = ? AND x.state = 'pending') THEN 1 ELSE 0 END) RETURNING id, head`,
		d.AppID, d.Bot, d.MessageID, d.ConversationID, d.ParentID, d.Hop, d.Seq, d.WebhookID, d.Kind, d.State, d.NextAttemptAt,
		d.CreatedAt, string(d.Payload), d.CreatedAt, d.State, d.AppID, d.Bot, d.ConversationID).Scan(&d.ID, &head)
	d.QueuedAt, d.Head = d.CreatedAt, head != 0
	return translate("insert delivery", err)
}

// promoteLaneHead makes the oldest pending delivery of the lane of
// delivery id its head, after id has left the pending state, and returns
// its id (0: the lane has none).
func (tx *Tx) promoteLaneHead(ctx context.Context, id int64) (int64, error) {
	var next int64
	err := tx.q.QueryRowContext(ctx, `UPDATE deliveries SET head = 1 WHERE head = 0 AND id = (
		SELECT min(x.id) FROM deliveries x, deliveries f WHERE f.id = ? AND x.app_id = f.app_id AND x.bot_uid = f.bot_uid
			AND x.conversation_id = f.conversation_id AND x.state = 'pending') RETURNING id`, id).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return next, translate("promote lane head", err)
}

// DueHead returns the delivery id if it is its lane's head, pending and
// due at nowMs, with its payload; nil otherwise.
func (tx *Tx) DueHead(ctx context.Context, id, nowMs int64) (*chat.Delivery, error) {
	d, err := scanDelivery(tx.q.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries
		WHERE id = ? AND state = 'pending' AND head = 1 AND next_attempt_at <= ?`, id, nowMs))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, translate("due head", err)
	}
	return d, nil
}

// fixLaneHeads recomputes the head flag of the pending deliveries that
// where selects (a condition on deliveries' columns, with args).
func (tx *Tx) fixLaneHeads(ctx context.Context, where string, args ...any) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET head = CASE WHEN id = (
		SELECT min(x.id) FROM deliveries x WHERE x.app_id = deliveries.app_id AND x.bot_uid = deliveries.bot_uid
			AND x.conversation_id = deliveries.conversation_id AND x.state = 'pending') THEN 1 ELSE 0 END
		WHERE state = 'pending' AND `+where, args...)
	return translate("fix lane heads", err)
}

// relayedHopWindow is how many of a conversation's newest messages
// LastRelayedHop looks at.
const relayedHopWindow = 100

// LastRelayedHop returns the hop of the newest message relayed to bot in
// the conversation; ok is false when none was among the conversation's
// relayedHopWindow newest messages. A bot-to-bot chain relays every
// message of it, so its newest relayed message is among the last few; a
// bot that has had nothing relayed to it in that many messages speaks
// first (docs/decisions/relay-rules.md). The walk reads the conversation's
// messages newest first and each one's deliveries by message, both
// indexes that new messages append to.
func (tx *Tx) LastRelayedHop(ctx context.Context, appID, bot, conversationID string) (hop int, ok bool, err error) {
	err = tx.q.QueryRowContext(ctx, `SELECT d.hop FROM (SELECT id FROM messages WHERE app_id = ? AND conversation_id = ?
		ORDER BY id DESC LIMIT `+strconv.Itoa(relayedHopWindow)+`) m
		JOIN deliveries d ON d.app_id = ? AND d.message_id = m.id
		WHERE d.bot_uid = ? AND d.kind = 'message' ORDER BY m.id DESC LIMIT 1`, appID, conversationID, appID, bot).Scan(&hop)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return hop, err == nil, translate("last relayed hop", err)
}

// DueDelivery is a lane head ready to be attempted, with what the engine
// needs of its bot.
type DueDelivery struct {
	chat.Delivery
	BotEnabled bool
	BotHealth  string
	NextProbe  int64 // ms
	BotTimeout int64 // seconds; 0 for the engine's default
}

// BotKey names a bot across apps.
type BotKey struct{ App, Bot string }

// Held tells which due deliveries DueLaneHeads left out for want of a
// slot.
type Held struct {
	Batch bool            // the batch was full
	Bots  map[BotKey]bool // bots at their cap
}

// Any reports whether anything due was left out.
func (h Held) Any() bool { return h.Batch || len(h.Bots) > 0 }

// InFlight is what one node knows to be in flight, for DueLaneHeads
// without leases (a single node: store.DB.Clustered is false).
type InFlight struct {
	Deliveries map[int64]bool // attempts in flight, by delivery id
	PerBot     map[BotKey]int // attempts in flight per bot
}

// DueLaneHeads returns up to limit deliveries that are the oldest pending
// one of their lane, due at nowMs and not in flight, oldest due first. A
// bot contributes at most its in-flight cap (defaultCap unless
// overridden), a failing bot only one delivery and only when its probe is
// due, so that a slow or dead bot with many conversations cannot fill the
// batch and hide other bots' deliveries.
//
// In flight means: with fl nil, leased (a live lease_until, on any node),
// so that the cap holds for the whole cluster; otherwise as fl says, and
// leases are not looked at (one node, which keeps them in memory).
//
// held reports the due heads left out, their bot being at its cap or the
// batch full: whoever frees such a slot must look again.
func (tx *Tx) DueLaneHeads(ctx context.Context, nowMs int64, defaultCap, limit int, fl *InFlight) (heads []DueDelivery, held Held, err error) {
	// Both reads see heads and leases only (deliveries_leased,
	// deliveries_heads), never a lane's backlog: a round costs as much as
	// the lanes with work up to the batch, however many deliveries wait in
	// them. The heads come in due order from the index and are read only
	// until the batch is full; those of bots at their cap are passed over.
	busy := map[BotKey]int{}
	leaseCut := nowMs // heads leased until later are in flight
	if fl != nil {
		for k, n := range fl.PerBot {
			busy[k] = n
		}
		leaseCut = math.MaxInt64
	} else if err := tx.leasesPerBot(ctx, nowMs, busy); err != nil {
		return nil, Held{}, err
	}
	// The heads are chosen on the columns deliveries_heads covers (the
	// in-flight ones come back every round on one node) and their bots'
	// state, read once per bot after the heads (PostgreSQL runs one query
	// at a time on a connection); the chosen ones are then read whole.
	type head struct {
		id   int64
		bot  BotKey
		kind string
	}
	var cands []head
	rows, err := tx.q.QueryContext(ctx, `SELECT id, app_id, bot_uid, kind FROM deliveries
		WHERE state = 'pending' AND head = 1 AND next_attempt_at <= ? AND lease_until <= ?
		ORDER BY next_attempt_at, id`, nowMs, leaseCut)
	if err != nil {
		return nil, Held{}, translate("due deliveries", err)
	}
	for rows.Next() {
		var h head
		if err := rows.Scan(&h.id, &h.bot.App, &h.bot.Bot, &h.kind); err != nil {
			rows.Close()
			return nil, Held{}, translate("due deliveries", err)
		}
		if fl == nil || !fl.Deliveries[h.id] {
			cands = append(cands, h)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, Held{}, translate("due deliveries", err)
	}
	type botState struct {
		health      string
		nextProbe   int64
		maxInFlight int
		missing     bool // deleted meanwhile (its deliveries with it)
	}
	bots := map[BotKey]*botState{}
	var ids []int64
	for _, h := range cands {
		b := bots[h.bot]
		if b == nil {
			b = &botState{}
			err := tx.q.QueryRowContext(ctx, `SELECT health_state, next_probe_at, max_in_flight FROM bots WHERE app_id = ? AND uid = ?`,
				h.bot.App, h.bot.Bot).Scan(&b.health, &b.nextProbe, &b.maxInFlight)
			if errors.Is(err, sql.ErrNoRows) {
				b.missing = true
			} else if err != nil {
				return nil, Held{}, translate("due deliveries", err)
			}
			bots[h.bot] = b
		}
		if b.missing {
			continue
		}
		if b.health == chat.HealthFailing && b.nextProbe > nowMs && h.kind != chat.DeliveryKindTest {
			continue // waits for the bot's probe (NextDueAt)
		}
		if len(ids) == limit {
			held.Batch = true // one more due head than the batch takes
			break
		}
		limitOf := defaultCap
		switch {
		case b.health == chat.HealthFailing:
			limitOf = 1
		case b.maxInFlight > 0:
			limitOf = b.maxInFlight
		}
		if busy[h.bot] >= limitOf {
			if held.Bots == nil {
				held.Bots = map[BotKey]bool{}
			}
			held.Bots[h.bot] = true
			continue
		}
		busy[h.bot]++
		ids = append(ids, h.id)
	}
	out := make([]DueDelivery, len(ids))
	for i, id := range ids {
		dd := &out[i]
		d := &dd.Delivery
		var enabled int
		var payload string
		if err := tx.q.QueryRowContext(ctx, `SELECT `+deliveryColumnsPrefixed+`, b.enabled, b.health_state, b.next_probe_at, b.timeout_seconds
			FROM deliveries d JOIN bots b ON b.app_id = d.app_id AND b.uid = d.bot_uid WHERE d.id = ?`, id).Scan(
			&d.ID, &d.AppID, &d.Bot, &d.MessageID, &d.ConversationID, &d.ParentID, &d.Hop, &d.Seq, &d.WebhookID, &d.Kind,
			&d.State, &d.Attempts, &d.NextAttemptAt, &d.QueuedAt, &d.LeaseTill, &d.LastStatus, &d.LastErrorClass, &d.LastError,
			&d.ReplyMessageID, &payload, &d.CreatedAt, &d.CompletedAt, &enabled, &dd.BotHealth, &dd.NextProbe, &dd.BotTimeout); err != nil {
			return nil, Held{}, translate("due delivery", err)
		}
		d.Payload = json.RawMessage(payload)
		dd.BotEnabled = enabled != 0
	}
	return out, held, nil
}

// leasesPerBot adds the live leases of each bot to busy.
func (tx *Tx) leasesPerBot(ctx context.Context, nowMs int64, busy map[BotKey]int) error {
	rows, err := tx.q.QueryContext(ctx, `SELECT app_id, bot_uid, count(*) FROM deliveries
		WHERE state = 'pending' AND lease_until > 0 AND lease_until > ? GROUP BY app_id, bot_uid`, nowMs)
	if err != nil {
		return translate("deliveries in flight", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k BotKey
		var n int
		if err := rows.Scan(&k.App, &k.Bot, &n); err != nil {
			return translate("deliveries in flight", err)
		}
		busy[k] += n
	}
	return translate("deliveries in flight", rows.Err())
}

// NextDueAt returns the earliest time after nowMs at which a pending
// delivery or a failing bot's probe comes due, or 0 when nothing will.
// Deliveries due already are not considered: the engine has seen them,
// and what holds them back (a lane or slot in flight) frees itself with a
// wake-up. Only lane heads can come due (the rest wait behind them). Both
// parts are index seeks or small: the deliveries part reads one entry of
// deliveries_heads, however long the queue.
func (tx *Tx) NextDueAt(ctx context.Context, nowMs int64) (int64, error) {
	var at sql.NullInt64
	err := tx.q.QueryRowContext(ctx, `SELECT min(t) FROM (
		SELECT min(next_attempt_at) AS t FROM deliveries WHERE state = 'pending' AND head = 1 AND next_attempt_at > ?
		UNION ALL
		SELECT min(next_probe_at) FROM bots WHERE health_state = 'failing' AND next_probe_at > ?) AS due_times`, nowMs, nowMs).Scan(&at)
	return at.Int64, translate("next due delivery", err)
}

// Claim bounds the leases ClaimDeliveries takes.
type Claim struct {
	Owner          string // the node taking the leases (lease_owner)
	DefaultCap     int    // per-bot in-flight cap of bots without an override
	Limit          int    // at most this many deliveries
	LeaseMs        int64  // how long past its attempt timeout a lease lasts
	DefaultTimeout int64  // ms, the attempt timeout of bots without an override
}

// ClaimDeliveries selects due lane heads (DueLaneHeads) and leases them to
// c.Owner in the same transaction. On PostgreSQL the heads are locked FOR
// UPDATE SKIP LOCKED first: a head another node is claiming at this moment
// is skipped, not waited for, and the SERIALIZABLE transaction fails (and
// runs again) if two nodes' claims would together exceed a bot's cap. A
// delivery's lease lasts its bot's attempt timeout plus c.LeaseMs.
func (tx *Tx) ClaimDeliveries(ctx context.Context, nowMs int64, c Claim) ([]DueDelivery, error) {
	due, _, err := tx.DueLaneHeads(ctx, nowMs, c.DefaultCap, c.Limit, nil)
	if err != nil || len(due) == 0 {
		return nil, err
	}
	if lock := tx.d.skipLocked(); lock != "" {
		q := `SELECT id FROM deliveries WHERE state = 'pending' AND lease_until <= ? AND id IN (?` + strings.Repeat(", ?", len(due)-1) + `) ` + lock
		args := []any{nowMs}
		for _, dd := range due {
			args = append(args, dd.ID)
		}
		rows, err := tx.q.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, translate("lock due deliveries", err)
		}
		locked := map[int64]bool{}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, translate("lock due deliveries", err)
			}
			locked[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, translate("lock due deliveries", err)
		}
		due = slices.DeleteFunc(due, func(dd DueDelivery) bool { return !locked[dd.ID] })
	}
	for i := range due {
		timeout := c.DefaultTimeout
		if due[i].BotTimeout > 0 {
			timeout = due[i].BotTimeout * 1000
		}
		until := nowMs + timeout + c.LeaseMs
		if _, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET lease_until = ?, lease_owner = ? WHERE id = ?`, until, c.Owner, due[i].ID); err != nil {
			return nil, translate("lease delivery", err)
		}
		due[i].LeaseTill = until
	}
	return due, nil
}

// ReleaseDeliveries ends the leases of owner on deliveries it claimed but
// will not attempt now.
func (tx *Tx) ReleaseDeliveries(ctx context.Context, owner string, ids []int64) error {
	for _, id := range ids {
		if _, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET lease_until = 0 WHERE id = ? AND lease_owner = ? AND state = 'pending'`,
			id, owner); err != nil {
			return translate("release delivery", err)
		}
	}
	return nil
}

// ClearLeases releases every lease: on the start of a single node, leases
// of the previous process are stale.
func (tx *Tx) ClearLeases(ctx context.Context) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET lease_until = 0 WHERE state = 'pending' AND lease_until <> 0`)
	return translate("clear leases", err)
}

// AttemptResult is what one attempt changes on its delivery.
type AttemptResult struct {
	Attempt       chat.Attempt
	State         string // the delivery's new state
	NextAttemptAt int64  // ms, when State is pending
}

// RecordAttempt stores an attempt and updates its delivery. It returns the
// delivery its lane has to attempt next, if any (0: none): the delivery
// itself (still pending) or the next one, which became the lane's head.
func (tx *Tx) RecordAttempt(ctx context.Context, d *chat.Delivery, r AttemptResult) (next int64, err error) {
	a := r.Attempt
	headers, _ := json.Marshal(a.RequestHeaders) // map[string]string always marshals
	if _, err := tx.q.ExecContext(ctx, `INSERT INTO delivery_attempts (delivery_id, attempt, started_at, latency_ms, status_code, error_class,
		error, request_headers, response_body, response_truncated, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (delivery_id, attempt) DO NOTHING`,
		d.ID, a.N, a.StartedAt, a.LatencyMs, a.StatusCode, a.ErrorClass, a.Error, string(headers), a.ResponseBody,
		boolInt(a.ResponseTruncated), a.NextAttemptAt); err != nil {
		return 0, translate("insert attempt", err)
	}
	completed := int64(0)
	if r.State != chat.DeliveryPending {
		completed = a.StartedAt + a.LatencyMs
	}
	if _, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, lease_until = 0,
		last_status = ?, last_error_class = ?, last_error = ?, completed_at = ?, head = CASE WHEN ? = 'pending' THEN head ELSE 0 END
		WHERE id = ?`,
		r.State, a.N, r.NextAttemptAt, a.StatusCode, a.ErrorClass, a.Error, completed, r.State, d.ID); err != nil {
		return 0, translate("update delivery", err)
	}
	if r.State == chat.DeliveryPending {
		return d.ID, nil
	}
	return tx.promoteLaneHead(ctx, d.ID)
}

// FailDelivery ends a pending delivery without an attempt (bot disabled,
// expired).
func (tx *Tx) FailDelivery(ctx context.Context, id int64, class, reason string, atMs int64) error {
	res, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET state = 'failed', lease_until = 0, last_error_class = ?, last_error = ?, completed_at = ?,
		head = 0 WHERE id = ? AND state = 'pending'`, class, reason, atMs, id)
	if err != nil {
		return translate("fail delivery", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	_, err = tx.promoteLaneHead(ctx, id)
	return err
}

// SetReplyMessage records the inline reply posted for a delivery. It
// returns false when one was already recorded (the reply is posted once).
func (tx *Tx) SetReplyMessage(ctx context.Context, deliveryID, messageID int64) (bool, error) {
	res, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET reply_message_id = ? WHERE id = ? AND reply_message_id = 0`, messageID, deliveryID)
	if err != nil {
		return false, translate("set reply message", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReplyMessageOf returns the inline reply already posted for a delivery, or 0.
func (tx *Tx) ReplyMessageOf(ctx context.Context, deliveryID int64) (int64, error) {
	var id int64
	err := tx.q.QueryRowContext(ctx, `SELECT reply_message_id FROM deliveries WHERE id = ?`, deliveryID).Scan(&id)
	return id, translate("reply message of delivery", err)
}

// DeliveryFilter selects deliveries in ListDeliveries.
type DeliveryFilter struct {
	State   string
	SinceMs int64
	UntilMs int64
	Page    Page
}

// ListDeliveries returns a page of a bot's deliveries, newest first, and the
// total. Payloads are left out.
func (tx *Tx) ListDeliveries(ctx context.Context, appID, bot string, f DeliveryFilter) ([]chat.Delivery, int, error) {
	where := `app_id = ? AND bot_uid = ?`
	args := []any{appID, bot}
	if f.State != "" {
		where += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.SinceMs > 0 {
		where += ` AND created_at >= ?`
		args = append(args, f.SinceMs)
	}
	if f.UntilMs > 0 {
		where += ` AND created_at <= ?`
		args = append(args, f.UntilMs)
	}
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, translate("count deliveries", err)
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE `+where+` ORDER BY id DESC LIMIT ? OFFSET ?`,
		append(args, f.Page.Limit(), f.Page.Offset())...)
	if err != nil {
		return nil, 0, translate("list deliveries", err)
	}
	defer rows.Close()
	var out []chat.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, 0, translate("list deliveries", err)
		}
		d.Payload = nil
		out = append(out, *d)
	}
	return out, total, translate("list deliveries", rows.Err())
}

// Delivery returns one delivery of a bot with its attempts.
func (tx *Tx) Delivery(ctx context.Context, appID, bot string, id int64) (*chat.Delivery, error) {
	d, err := scanDelivery(tx.q.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = ? AND app_id = ? AND bot_uid = ?`, id, appID, bot))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errDeliveryNotFound(id)
	}
	if err != nil {
		return nil, translate("get delivery", err)
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT attempt, started_at, latency_ms, status_code, error_class, error, request_headers, response_body,
		response_truncated, next_attempt_at FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt`, id)
	if err != nil {
		return nil, translate("list attempts", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a chat.Attempt
		var headers string
		var truncated int
		if err := rows.Scan(&a.N, &a.StartedAt, &a.LatencyMs, &a.StatusCode, &a.ErrorClass, &a.Error, &headers, &a.ResponseBody,
			&truncated, &a.NextAttemptAt); err != nil {
			return nil, translate("list attempts", err)
		}
		if headers != "" {
			_ = json.Unmarshal([]byte(headers), &a.RequestHeaders) // written by RecordAttempt
		}
		a.ResponseTruncated = truncated != 0
		d.AttemptLog = append(d.AttemptLog, a)
	}
	return d, translate("list attempts", rows.Err())
}

// RequeueDelivery makes a finished (or pending) delivery due at atMs again.
// Its attempts so far are kept; the retry window restarts.
func (tx *Tx) RequeueDelivery(ctx context.Context, appID, bot string, id, atMs int64) error {
	res, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', next_attempt_at = ?, queued_at = ?, lease_until = 0, completed_at = 0
		WHERE id = ? AND app_id = ? AND bot_uid = ?`, atMs, atMs, id, appID, bot)
	if err != nil {
		return translate("requeue delivery", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errDeliveryNotFound(id)
	}
	// The requeued delivery may be older than the lane's head.
	return tx.fixLaneHeads(ctx, `app_id = ? AND bot_uid = ? AND conversation_id = (SELECT r.conversation_id FROM deliveries r WHERE r.id = ?)`,
		appID, bot, id)
}

// RequeueDeliveries makes every delivery of the bot in state since sinceMs
// due at atMs again and returns how many.
func (tx *Tx) RequeueDeliveries(ctx context.Context, appID, bot, state string, sinceMs, atMs int64) (int, error) {
	res, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET state = 'pending', next_attempt_at = ?, queued_at = ?, lease_until = 0, completed_at = 0
		WHERE app_id = ? AND bot_uid = ? AND state = ? AND created_at >= ?`, atMs, atMs, appID, bot, state, sinceMs)
	if err != nil {
		return 0, translate("requeue deliveries", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, nil
	}
	return int(n), tx.fixLaneHeads(ctx, `app_id = ? AND bot_uid = ?`, appID, bot)
}

// ExpireDeliveries fails pending deliveries queued before beforeMs and
// returns how many.
func (tx *Tx) ExpireDeliveries(ctx context.Context, beforeMs, nowMs int64) (int, error) {
	res, err := tx.q.ExecContext(ctx, `UPDATE deliveries SET state = 'failed', lease_until = 0, last_error_class = 'expired',
		last_error = 'not delivered within the retry window', completed_at = ?, head = 0
		WHERE state = 'pending' AND queued_at < ?`, nowMs, beforeMs)
	if err != nil {
		return 0, translate("expire deliveries", err)
	}
	n, _ := res.RowsAffected()
	// Promote the next deliveries of the lanes whose heads expired; this
	// also repairs any lane left without a head, whatever the cause.
	_, err = tx.q.ExecContext(ctx, `UPDATE deliveries SET head = 1 WHERE state = 'pending' AND head = 0 AND id = (
		SELECT min(x.id) FROM deliveries x WHERE x.app_id = deliveries.app_id AND x.bot_uid = deliveries.bot_uid
			AND x.conversation_id = deliveries.conversation_id AND x.state = 'pending')`)
	return int(n), translate("promote lane heads", err)
}

// PendingCount returns how many deliveries of the bot are pending.
func (tx *Tx) PendingCount(ctx context.Context, appID, bot string) (int, error) {
	var n int
	err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE app_id = ? AND bot_uid = ? AND state = 'pending'`, appID, bot).Scan(&n)
	return n, translate("count pending deliveries", err)
}

// QueueStats returns how many deliveries are pending and the due time (ms)
// of the oldest due one (0 when none is due).
func (tx *Tx) QueueStats(ctx context.Context, nowMs int64) (pending int, oldestDueMs int64, err error) {
	var oldest sql.NullInt64
	err = tx.q.QueryRowContext(ctx, `SELECT count(*), min(CASE WHEN next_attempt_at <= ? THEN next_attempt_at END)
		FROM deliveries WHERE state = 'pending'`, nowMs).Scan(&pending, &oldest)
	return pending, oldest.Int64, translate("queue stats", err)
}
