package store

import (
	"context"
	"database/sql"
	"errors"

	"parley/internal/chat"
)

// InsertApp creates an app.
func (tx *Tx) InsertApp(ctx context.Context, a *chat.App) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO apps (id, name, region, created_at) VALUES (?, ?, ?, ?)`,
		a.ID, a.Name, a.Region, a.CreatedAt)
	return translate("insert app", err)
}

// App returns one app.
func (tx *Tx) App(ctx context.Context, id string) (*chat.App, error) {
	a := &chat.App{}
	err := tx.q.QueryRowContext(ctx, `SELECT id, name, region, created_at FROM apps WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.Region, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_INVALID_APPID", "The appId %q does not exist.", id)
	}
	return a, translate("get app", err)
}

// Apps lists every app, oldest first.
func (tx *Tx) Apps(ctx context.Context) ([]chat.App, error) {
	rows, err := tx.q.QueryContext(ctx, `SELECT id, name, region, created_at FROM apps ORDER BY created_at, id`)
	if err != nil {
		return nil, translate("list apps", err)
	}
	defer rows.Close()
	var out []chat.App
	for rows.Next() {
		var a chat.App
		if err := rows.Scan(&a.ID, &a.Name, &a.Region, &a.CreatedAt); err != nil {
			return nil, translate("list apps", err)
		}
		out = append(out, a)
	}
	return out, translate("list apps", rows.Err())
}

// CountApps returns how many apps exist.
func (tx *Tx) CountApps(ctx context.Context) (int, error) {
	var n int
	err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM apps`).Scan(&n)
	return n, translate("count apps", err)
}

// InsertAPIKey stores a key (by hash).
func (tx *Tx) InsertAPIKey(ctx context.Context, appID string, k *chat.APIKey) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO api_keys (hash, app_id, prefix, name, scope, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.Hash, appID, k.Prefix, k.Name, k.Scope, k.CreatedAt)
	return translate("insert api key", err)
}

const apiKeyColumns = `hash, prefix, name, scope, created_at, updated_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*chat.APIKey, error) {
	k := &chat.APIKey{}
	err := row.Scan(&k.Hash, &k.Prefix, &k.Name, &k.Scope, &k.CreatedAt, &k.UpdatedAt)
	return k, err
}

// APIKeyByHash finds a key of the app by the hash of its value.
func (tx *Tx) APIKeyByHash(ctx context.Context, appID, hash string) (*chat.APIKey, error) {
	k, err := scanAPIKey(tx.q.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE app_id = ? AND hash = ?`, appID, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, chat.Errorf(chat.KindNotFound, "ERR_APIKEY_NOT_FOUND", "The API key does not exist.")
	}
	return k, translate("get api key", err)
}

// APIKeyByPrefix finds a key of the app by its clear prefix.
func (tx *Tx) APIKeyByPrefix(ctx context.Context, appID, prefix string) (*chat.APIKey, error) {
	k, err := scanAPIKey(tx.q.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE app_id = ? AND prefix = ?`, appID, prefix))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, chat.Errorf(chat.KindNotFound, "ERR_APIKEY_NOT_FOUND", "The API key does not exist.")
	}
	return k, translate("get api key", err)
}

// APIKeyFilter selects keys in ListAPIKeys.
type APIKeyFilter struct {
	Scope     string
	SearchKey string
	Page      Page
}

// ListAPIKeys returns one page of the app's keys, newest first, and the total.
func (tx *Tx) ListAPIKeys(ctx context.Context, appID string, f APIKeyFilter) ([]chat.APIKey, int, error) {
	where := `app_id = ?`
	args := []any{appID}
	if f.Scope != "" {
		where += ` AND scope = ?`
		args = append(args, f.Scope)
	}
	if f.SearchKey != "" {
		where += ` AND name LIKE ? ESCAPE '\'`
		args = append(args, likeContains(f.SearchKey))
	}
	var total int
	if err := tx.q.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, translate("count api keys", err)
	}
	rows, err := tx.q.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE `+where+
		` ORDER BY created_at DESC, prefix LIMIT ? OFFSET ?`, append(args, f.Page.Limit(), f.Page.Offset())...)
	if err != nil {
		return nil, 0, translate("list api keys", err)
	}
	defer rows.Close()
	var out []chat.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, 0, translate("list api keys", err)
		}
		out = append(out, *k)
	}
	return out, total, translate("list api keys", rows.Err())
}

// UpdateAPIKey writes a key's name and scope.
func (tx *Tx) UpdateAPIKey(ctx context.Context, appID string, k *chat.APIKey) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE api_keys SET name = ?, scope = ?, updated_at = ? WHERE app_id = ? AND hash = ?`,
		k.Name, k.Scope, k.UpdatedAt, appID, k.Hash)
	return translate("update api key", err)
}

// DeleteAPIKey removes a key.
func (tx *Tx) DeleteAPIKey(ctx context.Context, appID, hash string) error {
	_, err := tx.q.ExecContext(ctx, `DELETE FROM api_keys WHERE app_id = ? AND hash = ?`, appID, hash)
	return translate("delete api key", err)
}

// Page is a page-based pagination request (users, groups, members, keys).
type Page struct {
	PerPage int // 1..1000
	Number  int // 1-based
}

// Limit is the SQL LIMIT of the page.
func (p Page) Limit() int { return p.PerPage }

// Offset is the SQL OFFSET of the page.
func (p Page) Offset() int { return (p.Number - 1) * p.PerPage }
