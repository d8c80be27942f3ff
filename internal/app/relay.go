package app

import (
	"context"

	"parley/internal/chat"
	"parley/internal/store"
	"parley/internal/webhook"
)

// Callback is the body parley POSTs to a bot: CometChat's after_message
// payload (spec section 2.2).
type Callback struct {
	Trigger        string         `json:"trigger"`
	Data           *chat.Message  `json:"data"`
	AppID          string         `json:"appId"`
	Region         string         `json:"region"`
	ChatAPIVersion string         `json:"chatAPIVersion"`
	Origin         CallbackOrigin `json:"origin"`
	Bot            string         `json:"bot"`
}

// CallbackOrigin says where the message came from.
type CallbackOrigin struct {
	Platform string `json:"platform"`
}

// ChatAPIVersion is the API version named in callbacks.
const ChatAPIVersion = "3.0"

// setHop gives a bot's message its place in a bot-to-bot chain: one more
// than the newest message relayed to that bot in the conversation (1 when
// the bot speaks first). Humans' messages stay at hop 0: it is called for
// bots' messages only.
func setHop(ctx context.Context, tx *store.Tx, appID string, m *chat.Message) error {
	hop, ok, err := tx.LastRelayedHop(ctx, appID, m.Sender, m.ConversationID)
	if err != nil {
		return err
	}
	m.Hop = 1
	if ok {
		m.Hop = hop + 1
	}
	return nil
}

// callbackTail is Callback after its data: the fields callbackBody
// encodes itself.
type callbackTail struct {
	AppID          string         `json:"appId"`
	Region         string         `json:"region"`
	ChatAPIVersion string         `json:"chatAPIVersion"`
	Origin         CallbackOrigin `json:"origin"`
	Bot            string         `json:"bot"`
}

// callbackBody returns chat.Marshal of the after_message Callback whose
// data is the message encoded as msg (Message.MarshalJSON), byte for byte,
// without encoding the message again for every bot or having the encoder
// re-read the message's JSON to check and compact it.
func callbackBody(msg []byte, appID, region, origin, bot string) ([]byte, error) {
	tail, err := chat.Marshal(callbackTail{AppID: appID, Region: region, ChatAPIVersion: ChatAPIVersion,
		Origin: CallbackOrigin{Platform: origin}, Bot: bot})
	if err != nil {
		return nil, err
	}
	const head = `{"trigger":"after_message","data":`
	b := make([]byte, 0, len(head)+len(msg)+len(tail))
	b = append(b, head...)
	b = append(b, msg...)
	b = append(b, ',')
	return append(b, tail[1:]...), nil // tail is an object: {…}
}

// region returns the app's region, read once per process: an app's
// region is fixed when it is created.
func (a *App) region(ctx context.Context, tx *store.Tx, appID string) (string, error) {
	if r, ok := a.regions.Load(appID); ok {
		return r.(string), nil
	}
	ap, err := tx.App(ctx, appID)
	if err != nil {
		return "", err
	}
	a.regions.Store(appID, ap.Region)
	return ap.Region, nil
}

// relay queues one delivery per bot that must receive m, in the
// transaction that stores m: a message is never stored without its
// deliveries, nor a delivery without its message.
func (a *App) relay(ctx context.Context, tx *store.Tx, fx *effects, c Caller, m *chat.Message, cands []chat.RelayCandidate) error {
	if len(cands) == 0 {
		return nil
	}
	targets := chat.RelayTargets(m, cands, a.cfg.HopLimit)
	if len(targets) == 0 {
		return nil
	}
	region, err := a.region(ctx, tx, c.AppID)
	if err != nil {
		return err
	}
	origin := c.Origin
	if origin == "" {
		origin = OriginAPI
	}
	now := tx.Now.UnixMilli()
	msg, err := m.Encode() // once for every bot the message reaches, its frame and its API answer
	if err != nil {
		return err
	}
	for _, bot := range targets {
		body, err := callbackBody(msg, c.AppID, region, origin, bot)
		if err != nil {
			return err
		}
		seq, err := tx.NextBotSeq(ctx, c.AppID, bot)
		if err != nil {
			return err
		}
		d := &chat.Delivery{AppID: c.AppID, Bot: bot, MessageID: m.ID, ConversationID: m.ConversationID, ParentID: m.ParentID,
			Hop: m.Hop, Seq: seq, WebhookID: webhook.NewMessageID(), Kind: chat.DeliveryKindMessage, State: chat.DeliveryPending,
			NextAttemptAt: now, CreatedAt: now, Payload: body}
		if err := tx.InsertDelivery(ctx, d); err != nil {
			return err
		}
		// A delivery behind others in its lane needs no wake-up: the
		// lane's head wakes the engine as it leaves (the attempt that
		// ends it reports a next one due), or is held for a slot (the
		// slot's release wakes it), or is due later (the engine sleeps
		// until then). A stalled bot's backlog thus costs no rounds.
		if d.Head {
			fx.offers = append(fx.offers, d)
		}
	}
	return nil
}
