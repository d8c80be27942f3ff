package app

import (
	"context"

	"parley/internal/chat"
	"parley/internal/store"
)

// MaxAPIKeys is how many keys an app may have (CometChat: 25).
const MaxAPIKeys = 25

// APIKeyInput is the body of create and update.
type APIKeyInput struct {
	Name  *string `json:"name"`
	Scope *string `json:"scope"`
}

// CreateAPIKey creates a key; its value is in the result only this once.
func (a *App) CreateAPIKey(ctx context.Context, c Caller, in APIKeyInput) (*chat.APIKey, error) {
	var v chat.Validation
	name, scope := deref(in.Name), chat.ScopeAuthOnly
	chat.ValidateName(&v, "name", name, true)
	if in.Scope != nil {
		scope = keyScope(&v, *in.Scope)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *chat.APIKey
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		_, total, err := tx.ListAPIKeys(ctx, c.AppID, store.APIKeyFilter{Page: store.Page{PerPage: 1, Number: 1}})
		if err != nil {
			return err
		}
		if total >= MaxAPIKeys {
			return chat.Errorf(chat.KindConflict, "ERR_PLAN_QUOTA_RESTRICTION", "An app may have at most %d API keys.", MaxAPIKeys)
		}
		value, err := insertKey(ctx, tx, c.AppID, name, scope)
		if err != nil {
			return err
		}
		out, err = tx.APIKeyByHash(ctx, c.AppID, chat.HashSecret(value))
		if err == nil {
			out.Key = value
		}
		return err
	})
	return out, err
}

// keyScope parses a key scope from a request, adding to v when it is not
// one.
func keyScope(v *chat.Validation, raw string) string {
	s, ok := chat.ParseKeyScope(raw)
	if !ok {
		v.Add("scope", "The scope must be authOnly or fullAccess.")
	}
	return s
}

// findKey resolves a key named in a path: its full value or its prefix.
func findKey(ctx context.Context, tx *store.Tx, appID, ref string) (*chat.APIKey, error) {
	if len(ref) == chat.APIKeyPrefixLen {
		return tx.APIKeyByPrefix(ctx, appID, ref)
	}
	return tx.APIKeyByHash(ctx, appID, chat.HashSecret(ref))
}

// APIKey returns one key, named by value or prefix.
func (a *App) APIKey(ctx context.Context, c Caller, ref string) (*chat.APIKey, error) {
	var out *chat.APIKey
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = findKey(ctx, tx, c.AppID, ref)
		return err
	})
	return out, err
}

// ListAPIKeys returns a page of keys.
func (a *App) ListAPIKeys(ctx context.Context, c Caller, f store.APIKeyFilter) ([]chat.APIKey, int, error) {
	if f.Scope != "" {
		var v chat.Validation
		f.Scope = keyScope(&v, f.Scope)
		if err := v.Err(); err != nil {
			return nil, 0, err
		}
	}
	var out []chat.APIKey
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		var err error
		out, total, err = tx.ListAPIKeys(ctx, c.AppID, f)
		return err
	})
	return out, total, err
}

// UpdateAPIKey changes a key's name or scope; a key cannot change itself.
func (a *App) UpdateAPIKey(ctx context.Context, c Caller, ref string, in APIKeyInput) (*chat.APIKey, error) {
	var v chat.Validation
	if in.Name != nil {
		chat.ValidateName(&v, "name", *in.Name, true)
	}
	var scope string
	if in.Scope != nil {
		scope = keyScope(&v, *in.Scope)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *chat.APIKey
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		k, err := findKey(ctx, tx, c.AppID, ref)
		if err != nil {
			return err
		}
		if k.Hash == c.KeyHash {
			return chat.Errorf(chat.KindForbidden, "ERR_APIKEY_NO_SELF_ACTION", "An API key cannot update itself.")
		}
		if in.Name != nil {
			k.Name = *in.Name
		}
		if scope != "" {
			k.Scope = scope
		}
		k.UpdatedAt = tx.Unix()
		out = k
		return tx.UpdateAPIKey(ctx, c.AppID, k)
	})
	if err == nil {
		a.keys.invalidate() // a scope change takes effect at once
	}
	return out, err
}

// DeleteAPIKey revokes a key; a key cannot delete itself.
func (a *App) DeleteAPIKey(ctx context.Context, c Caller, ref string) error {
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		k, err := findKey(ctx, tx, c.AppID, ref)
		if err != nil {
			return err
		}
		if k.Hash == c.KeyHash {
			return chat.Errorf(chat.KindForbidden, "ERR_APIKEY_NO_SELF_ACTION", "An API key cannot delete itself.")
		}
		return tx.DeleteAPIKey(ctx, c.AppID, k.Hash)
	})
	if err == nil {
		a.keys.invalidate() // the revoked key stops working at once
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
