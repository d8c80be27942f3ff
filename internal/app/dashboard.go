package app

import (
	"context"

	"parley/internal/chat"
	"parley/internal/store"
)

// This file holds the use cases only the dashboard needs. Everything else
// the dashboard does goes through the same use cases as the REST API.

// DashboardCaller returns the Caller a logged-in administrator acts as in
// an app: the rights of a fullAccess key that is no stored key (so the
// "a key cannot change itself" rules never apply). It fails when the app
// does not exist.
func (a *App) DashboardCaller(ctx context.Context, appID string) (Caller, *chat.App, error) {
	var ap *chat.App
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		ap, err = tx.App(ctx, appID)
		if chat.KindOf(err) == chat.KindUnauthenticated {
			return chat.Errorf(chat.KindNotFound, "ERR_APP_NOT_FOUND", "The app %q does not exist.", appID)
		}
		return err
	})
	if err != nil {
		return Caller{}, nil, err
	}
	return Caller{AppID: appID, Scope: chat.ScopeFullAccess}, ap, nil
}

// MessageDeliveries returns the bot deliveries of one message of the app,
// with their attempts (the chat console shows their state beside the
// message).
func (a *App) MessageDeliveries(ctx context.Context, c Caller, messageID int64) ([]chat.Delivery, error) {
	var out []chat.Delivery
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.MessageDeliveries(ctx, c.AppID, messageID)
		return err
	})
	return out, err
}

// ConsolePlatform marks the auth tokens the dashboard's chat console
// issues.
const ConsolePlatform = "parley-dashboard-console"

// ConsoleToken issues an auth token of uid for the dashboard's chat
// console. The token is the user's own (it grants exactly what the user
// may do, nothing of the app's keys) and replaces the previous console
// token of that user, so at most one lives per user and it ends when the
// console is opened again for that user.
func (a *App) ConsoleToken(ctx context.Context, c Caller, uid string) (*chat.AuthToken, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.AuthToken
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := tx.ActiveUser(ctx, c.AppID, uid); err != nil {
			return err
		}
		ts, err := tx.AuthTokens(ctx, c.AppID, uid)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if t.Platform == ConsolePlatform {
				if err := tx.DeleteAuthToken(ctx, c.AppID, uid, t.Token); err != nil {
					return err
				}
			}
		}
		t, err := a.newToken(ctx, tx, c.AppID, uid)
		if err != nil {
			return err
		}
		t.Platform, t.UserAgent, t.UpdatedAt = ConsolePlatform, "parley dashboard", tx.Unix()
		out = t
		return tx.UpdateAuthToken(ctx, c.AppID, t)
	})
	return out, err
}
