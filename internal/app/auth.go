package app

import (
	"context"
	"time"

	"parley/internal/chat"
	"parley/internal/store"
)

// Authenticate resolves an app id and an API key into a Caller.
func (a *App) Authenticate(ctx context.Context, appID, apiKey, onBehalfOf string) (Caller, error) {
	if appID == "" {
		return Caller{}, chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_EMPTY_APPID", "The appId is missing: send it in the appId header or the host name.")
	}
	if apiKey == "" {
		return Caller{}, chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_EMPTY_APIKEY", "The apiKey header is missing.")
	}
	hash := chat.HashSecret(apiKey)
	if scope, ok := a.keys.get(appID, hash, time.Now()); ok {
		return Caller{AppID: appID, Scope: scope, KeyHash: hash, OnBehalfOf: chat.NormalizeID(onBehalfOf)}, nil
	}
	gen := a.keys.generation()
	var c Caller
	err := a.read(ctx, func(tx *store.Tx) error {
		if _, err := tx.App(ctx, appID); err != nil {
			return err
		}
		k, err := tx.APIKeyByHash(ctx, appID, hash)
		if chat.KindOf(err) == chat.KindNotFound {
			return chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_APIKEY_NOT_FOUND", "The apiKey is not valid for this app.")
		}
		if err != nil {
			return err
		}
		c = Caller{AppID: appID, Scope: k.Scope, KeyHash: k.Hash, OnBehalfOf: chat.NormalizeID(onBehalfOf)}
		return nil
	})
	if err == nil {
		a.keys.put(gen, appID, hash, c.Scope, time.Now())
	}
	return c, err
}

// AuthenticateToken resolves an app id and a user's auth token into the
// user's uid. Deactivated users cannot connect.
func (a *App) AuthenticateToken(ctx context.Context, appID, token string) (string, error) {
	if appID == "" {
		return "", chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_EMPTY_APPID", "The appId is missing.")
	}
	if token == "" {
		return "", chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_EMPTY_AUTH_TOKEN", "The authToken is missing.")
	}
	var uid string
	err := a.read(ctx, func(tx *store.Tx) error {
		if _, err := tx.App(ctx, appID); err != nil {
			return err
		}
		var err error
		if uid, err = tx.TokenOwner(ctx, appID, token); err != nil {
			return err
		}
		if _, err := tx.ActiveUser(ctx, appID, uid); err != nil {
			return chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND", "The auth token's user is deactivated or deleted.")
		}
		return nil
	})
	return uid, err
}

// actor returns the user a request acts as: onBehalfOf, which must be an
// active user. required makes its absence an error.
func actor(ctx context.Context, tx *store.Tx, c Caller, required bool) (*chat.User, error) {
	if c.OnBehalfOf == "" {
		if required {
			return nil, chat.Errorf(chat.KindInvalid, "ERR_ON_BEHALF_OF_REQUIRED", "This call acts as a user: send the onBehalfOf header with a UID.")
		}
		return nil, nil
	}
	u, err := tx.ActiveUser(ctx, c.AppID, c.OnBehalfOf)
	if err != nil {
		return nil, err
	}
	return u, nil
}
