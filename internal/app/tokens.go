package app

import (
	"context"

	"parley/internal/chat"
	"parley/internal/store"
)

// newToken creates a token for uid and drops the oldest beyond the limit.
func (a *App) newToken(ctx context.Context, tx *store.Tx, appID, uid string) (*chat.AuthToken, error) {
	t := &chat.AuthToken{UID: uid, Token: chat.NewAuthTokenValue(uid, tx.Unix()), CreatedAt: tx.Unix()}
	if err := tx.InsertAuthToken(ctx, appID, t); err != nil {
		return nil, err
	}
	return t, tx.PruneAuthTokens(ctx, appID, uid, a.cfg.MaxAuthTokens)
}

// TokenInput is the body of token create and update.
type TokenInput struct {
	Force     bool   `json:"force"`
	Platform  string `json:"platform"`
	UserAgent string `json:"userAgent"`
	AppInfo   any    `json:"appInfo"`
}

// CreateAuthToken returns the user's newest token, or a new one when the
// user has none or force is set (CometChat's rule).
func (a *App) CreateAuthToken(ctx context.Context, c Caller, uid string, force bool) (*chat.AuthToken, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.AuthToken
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := tx.ActiveUser(ctx, c.AppID, uid); err != nil {
			return err
		}
		if !force {
			ts, err := tx.AuthTokens(ctx, c.AppID, uid)
			if err != nil {
				return err
			}
			if len(ts) > 0 {
				out = &ts[0]
				return nil
			}
		}
		var err error
		out, err = a.newToken(ctx, tx, c.AppID, uid)
		return err
	})
	return out, err
}

// AuthTokens lists a user's tokens.
func (a *App) AuthTokens(ctx context.Context, c Caller, uid string) ([]chat.AuthToken, error) {
	uid = chat.NormalizeID(uid)
	var out []chat.AuthToken
	err := a.read(ctx, func(tx *store.Tx) error {
		if _, err := tx.User(ctx, c.AppID, uid); err != nil {
			return err
		}
		var err error
		out, err = tx.AuthTokens(ctx, c.AppID, uid)
		return err
	})
	if out == nil {
		out = []chat.AuthToken{}
	}
	return out, err
}

// AuthToken returns one token.
func (a *App) AuthToken(ctx context.Context, c Caller, uid, token string) (*chat.AuthToken, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.AuthToken
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.AuthToken(ctx, c.AppID, uid, token)
		return err
	})
	return out, err
}

// UpdateAuthToken records the client information of a token.
func (a *App) UpdateAuthToken(ctx context.Context, c Caller, uid, token string, in TokenInput) (*chat.AuthToken, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.AuthToken
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		t, err := tx.AuthToken(ctx, c.AppID, uid, token)
		if err != nil {
			return err
		}
		t.Platform, t.UserAgent = in.Platform, in.UserAgent
		if s, ok := in.AppInfo.(string); ok {
			t.AppInfo = s
		}
		t.UpdatedAt = tx.Unix()
		out = t
		return tx.UpdateAuthToken(ctx, c.AppID, t)
	})
	return out, err
}

// DeleteAuthToken revokes one token.
func (a *App) DeleteAuthToken(ctx context.Context, c Caller, uid, token string) error {
	uid = chat.NormalizeID(uid)
	return a.write(ctx, func(tx *store.Tx, _ *effects) error {
		return tx.DeleteAuthToken(ctx, c.AppID, uid, token)
	})
}

// DeleteAuthTokens revokes every token of the user.
func (a *App) DeleteAuthTokens(ctx context.Context, c Caller, uid string) error {
	uid = chat.NormalizeID(uid)
	return a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := tx.User(ctx, c.AppID, uid); err != nil {
			return err
		}
		return tx.DeleteAuthTokens(ctx, c.AppID, uid)
	})
}
