package app

import (
	"context"
	"time"
	"unicode/utf8"

	"parley/internal/chat"
	"parley/internal/store"
	"parley/internal/webhook"
)

// BotInput is the body of bot create and update; pointers tell "absent".
type BotInput struct {
	UID              *string `json:"uid"`
	WebhookURL       *string `json:"webhookURL"`
	GroupChatSetting *string `json:"groupChatSetting"`
	Enabled          *bool   `json:"enabled"`
	UseBasicAuth     *bool   `json:"useBasicAuth"`
	Username         *string `json:"username"`
	Password         *string `json:"password"`
	MaxInFlight      *int    `json:"maxInFlight"`
	TimeoutSeconds   *int    `json:"timeoutSeconds"`
}

// Bounds of the per-bot overrides.
const (
	maxBotInFlight = 256
	maxBotTimeout  = int(webhook.MaxTimeout / time.Second)
)

func (a *App) validateBotFields(v *chat.Validation, in *BotInput) {
	if in.WebhookURL != nil {
		chat.ValidateWebhookURL(v, *in.WebhookURL, a.cfg.PlainHTTPAllowed)
	}
	if in.GroupChatSetting != nil {
		s, ok := chat.ParseGroupChatSetting(*in.GroupChatSetting)
		if !ok {
			v.Add("groupChatSetting", "The groupChatSetting must be one of allMessages, slashedMessages, mentionedMessages, none.")
		}
		in.GroupChatSetting = &s
	}
	if in.Username != nil {
		chat.ValidateBotCredential(v, "username", *in.Username)
	}
	if in.Password != nil {
		chat.ValidateBotCredential(v, "password", *in.Password)
	}
	if in.MaxInFlight != nil && (*in.MaxInFlight < 0 || *in.MaxInFlight > maxBotInFlight) {
		v.Add("maxInFlight", "The maxInFlight must be from 0 (server default) to %d.", maxBotInFlight)
	}
	if in.TimeoutSeconds != nil && (*in.TimeoutSeconds < 0 || *in.TimeoutSeconds > maxBotTimeout) {
		v.Add("timeoutSeconds", "The timeoutSeconds must be from 0 (server default) to %d.", maxBotTimeout)
	}
}

// CreateBot makes an existing, active user a bot. The answer carries the
// signing secret, shown only this once.
func (a *App) CreateBot(ctx context.Context, c Caller, in BotInput) (*chat.Bot, error) {
	var v chat.Validation
	uid := deref(in.UID)
	chat.ValidateID(&v, "uid", &uid)
	if utf8.RuneCountInString(uid) > chat.MaxBotUIDLen {
		v.Add("uid", "The uid of a bot may not be greater than %d characters.", chat.MaxBotUIDLen)
	}
	if in.WebhookURL == nil {
		v.Add("webhookURL", "The webhookURL field is required.")
	}
	a.validateBotFields(&v, &in)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *chat.Bot
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := tx.ActiveUser(ctx, c.AppID, uid); err != nil {
			return err
		}
		b := &store.BotRow{Bot: chat.Bot{UID: uid, WebhookURL: *in.WebhookURL, GroupChatSetting: chat.GroupChatNone, CreatedAt: tx.Unix()},
			Secret: webhook.NewSecret()}
		if in.GroupChatSetting != nil {
			b.GroupChatSetting = *in.GroupChatSetting
		}
		b.Enabled = in.Enabled != nil && *in.Enabled
		b.UseBasicAuth = in.UseBasicAuth != nil && *in.UseBasicAuth
		// CometChat keeps the credentials of a create only with basic auth on.
		if b.UseBasicAuth {
			b.Username, b.Password = deref(in.Username), deref(in.Password)
		}
		if in.MaxInFlight != nil {
			b.MaxInFlight = *in.MaxInFlight
		}
		if in.TimeoutSeconds != nil {
			b.TimeoutSeconds = *in.TimeoutSeconds
		}
		if err := tx.InsertBot(ctx, c.AppID, b); err != nil {
			return err
		}
		got, err := a.loadBot(ctx, tx, c.AppID, uid)
		if err != nil {
			return err
		}
		got.SigningSecret = b.Secret
		out = got
		return nil
	})
	return out, err
}

// loadBot reads a bot for the API, with its pending delivery count.
func (a *App) loadBot(ctx context.Context, tx *store.Tx, appID, uid string) (*chat.Bot, error) {
	b, err := tx.Bot(ctx, appID, uid)
	if err != nil {
		return nil, err
	}
	if b.Health.Pending, err = tx.PendingCount(ctx, appID, uid); err != nil {
		return nil, err
	}
	return &b.Bot, nil
}

// Bot returns one bot.
func (a *App) Bot(ctx context.Context, c Caller, uid string) (*chat.Bot, error) {
	var out *chat.Bot
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = a.loadBot(ctx, tx, c.AppID, chat.NormalizeID(uid))
		return err
	})
	return out, err
}

// ListBots returns a page of bots and the total.
func (a *App) ListBots(ctx context.Context, c Caller, f store.BotFilter) ([]chat.Bot, int, error) {
	out := []chat.Bot{}
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		rows, n, err := tx.ListBots(ctx, c.AppID, f)
		if err != nil {
			return err
		}
		total = n
		for _, r := range rows {
			if r.Health.Pending, err = tx.PendingCount(ctx, c.AppID, r.UID); err != nil {
				return err
			}
			out = append(out, r.Bot)
		}
		return nil
	})
	return out, total, err
}

// UpdateBot changes a bot's configuration; every field is optional.
func (a *App) UpdateBot(ctx context.Context, c Caller, uid string, in BotInput) (*chat.Bot, error) {
	uid = chat.NormalizeID(uid)
	var v chat.Validation
	a.validateBotFields(&v, &in)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *chat.Bot
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		b, err := tx.Bot(ctx, c.AppID, uid)
		if err != nil {
			return err
		}
		setIf(&b.WebhookURL, in.WebhookURL)
		setIf(&b.GroupChatSetting, in.GroupChatSetting)
		setIf(&b.Username, in.Username)
		setIf(&b.Password, in.Password)
		if in.Enabled != nil {
			b.Enabled = *in.Enabled
		}
		if in.UseBasicAuth != nil {
			b.UseBasicAuth = *in.UseBasicAuth
		}
		if in.MaxInFlight != nil {
			b.MaxInFlight = *in.MaxInFlight
		}
		if in.TimeoutSeconds != nil {
			b.TimeoutSeconds = *in.TimeoutSeconds
		}
		b.UpdatedAt = tx.Unix()
		if err := tx.UpdateBot(ctx, c.AppID, b); err != nil {
			return err
		}
		// Enabling a bot (or pointing it somewhere new) ends a failing or
		// disabled state: the operator has acted.
		if (in.Enabled != nil && *in.Enabled) || in.WebhookURL != nil {
			if b.Health.State != chat.HealthHealthy {
				if err := tx.SetBotHealth(ctx, c.AppID, uid, store.BotHealthUpdate{State: chat.HealthHealthy,
					LastSuccessAt: b.Health.LastSuccessAt, LastFailureAt: b.Health.LastFailureAt, From: b.Health.State}); err != nil {
					return err
				}
			}
			fx.deliveries = true
		}
		out, err = a.loadBot(ctx, tx, c.AppID, uid)
		return err
	})
	return out, err
}

// DeleteBot removes the bot and its delivery log; the user stays.
func (a *App) DeleteBot(ctx context.Context, c Caller, uid string) error {
	uid = chat.NormalizeID(uid)
	return a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := tx.Bot(ctx, c.AppID, uid); err != nil {
			return err
		}
		return tx.DeleteBot(ctx, c.AppID, uid)
	})
}

// RotateBotSecret creates a new signing secret, shown once in the answer.
// The previous secret keeps signing beside it for the rotation window, so
// a bot can switch without dropping a delivery.
func (a *App) RotateBotSecret(ctx context.Context, c Caller, uid string) (*chat.Bot, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.Bot
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		b, err := tx.Bot(ctx, c.AppID, uid)
		if err != nil {
			return err
		}
		b.PreviousSecret = b.Secret
		b.PreviousSecretUntil = tx.Now.Add(a.cfg.SecretRotationWindow).UnixMilli()
		b.Secret = webhook.NewSecret()
		b.SecretRotatedAt = tx.Unix()
		b.UpdatedAt = tx.Unix()
		if err := tx.UpdateBot(ctx, c.AppID, b); err != nil {
			return err
		}
		if out, err = a.loadBot(ctx, tx, c.AppID, uid); err != nil {
			return err
		}
		out.SigningSecret = b.Secret
		return nil
	})
	return out, err
}

// BotSend posts a message as the bot (POST /v3/bots/{uid}/messages).
func (a *App) BotSend(ctx context.Context, c Caller, uid string, in SendInput) (*chat.Message, error) {
	uid = chat.NormalizeID(uid)
	err := a.read(ctx, func(tx *store.Tx) error {
		_, err := tx.Bot(ctx, c.AppID, uid)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.OnBehalfOf = uid
	return a.send(ctx, c, in)
}

// rotationExpired reports whether a bot's previous secret is past its
// window at now.
func rotationExpired(b *store.BotRow, now time.Time) bool {
	return b.PreviousSecret != "" && now.UnixMilli() > b.PreviousSecretUntil
}
