package app

import (
	"context"

	"parley/internal/chat"
	"parley/internal/store"
)

// NewApp is the outcome of CreateApp: the app and its first two keys, whose
// values are shown only now.
type NewApp struct {
	App        chat.App
	RESTAPIKey string // fullAccess
	AuthKey    string // authOnly
}

// CreateApp creates an app with a fullAccess REST API key and an authOnly
// auth key.
func (a *App) CreateApp(ctx context.Context, name, region string) (*NewApp, error) {
	var v chat.Validation
	chat.ValidateName(&v, "name", name, true)
	if region == "" {
		region = chat.DefaultRegion
	}
	region, ok := chat.ParseRegion(region)
	if !ok {
		v.Add("region", "The region must be one of us, eu, in.")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *NewApp
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		var err error
		out, err = createApp(ctx, tx, name, region)
		return err
	})
	return out, err
}

// createApp stores a new app with its two keys.
func createApp(ctx context.Context, tx *store.Tx, name, region string) (*NewApp, error) {
	out := &NewApp{App: chat.App{ID: chat.RandomHex(8), Name: name, Region: region, CreatedAt: tx.Unix()}}
	if err := tx.InsertApp(ctx, &out.App); err != nil {
		return nil, err
	}
	var err error
	if out.RESTAPIKey, err = insertKey(ctx, tx, out.App.ID, "REST API Key", chat.ScopeFullAccess); err != nil {
		return nil, err
	}
	if out.AuthKey, err = insertKey(ctx, tx, out.App.ID, "Auth Key", chat.ScopeAuthOnly); err != nil {
		return nil, err
	}
	return out, nil
}

// EnsureFirstApp creates an app named name when the database has none, and
// reports whether it did. The server calls it at start so that a newcomer
// has an app and keys at once.
//
// The count and the creation share one write transaction, so that several
// nodes starting at once on a new database create one app between them.
func (a *App) EnsureFirstApp(ctx context.Context, name string) (*NewApp, error) {
	var out *NewApp
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		out = nil
		n, err := tx.CountApps(ctx)
		if err != nil || n > 0 {
			return err
		}
		out, err = createApp(ctx, tx, name, chat.DefaultRegion)
		return err
	})
	return out, err
}

// Apps lists every app.
func (a *App) Apps(ctx context.Context) ([]chat.App, error) {
	var out []chat.App
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.Apps(ctx)
		return err
	})
	return out, err
}

// insertKey creates a key and returns its value. A prefix already used in
// the app (one chance in 4 billion) is retried with a new value.
func insertKey(ctx context.Context, tx *store.Tx, appID, name, scope string) (string, error) {
	for {
		value := chat.NewAPIKeyValue()
		k := &chat.APIKey{Hash: chat.HashSecret(value), Prefix: value[:chat.APIKeyPrefixLen], Name: name, Scope: scope, CreatedAt: tx.Unix()}
		if _, err := tx.APIKeyByPrefix(ctx, appID, k.Prefix); err == nil {
			continue
		} else if chat.KindOf(err) != chat.KindNotFound {
			return "", err
		}
		return value, tx.InsertAPIKey(ctx, appID, k)
	}
}
