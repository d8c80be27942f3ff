package store

import (
	"context"
	"database/sql"
	"errors"

	"parley/internal/chat"
)

const tokenColumns = `uid, token, platform, user_agent, app_info, created_at, updated_at`

func scanToken(row interface{ Scan(...any) error }) (*chat.AuthToken, error) {
	t := &chat.AuthToken{}
	err := row.Scan(&t.UID, &t.Token, &t.Platform, &t.UserAgent, &t.AppInfo, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

func errTokenNotFound() error {
	return chat.Errorf(chat.KindNotFound, "ERR_AUTH_TOKEN_NOT_FOUND", "The auth token does not exist.")
}

// InsertAuthToken stores a token.
func (tx *Tx) InsertAuthToken(ctx context.Context, appID string, t *chat.AuthToken) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO auth_tokens (app_id, `+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		appID, t.UID, t.Token, t.Platform, t.UserAgent, t.AppInfo, t.CreatedAt, t.UpdatedAt)
	return translate("insert auth token", err)
}

// AuthTokens lists a user's tokens, newest first.
func (tx *Tx) AuthTokens(ctx context.Context, appID, uid string) ([]chat.AuthToken, error) {
	rows, err := tx.q.QueryContext(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE app_id = ? AND uid = ? ORDER BY created_at DESC, token`, appID, uid)
	if err != nil {
		return nil, translate("list auth tokens", err)
	}
	defer rows.Close()
	var out []chat.AuthToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, translate("list auth tokens", err)
		}
		out = append(out, *t)
	}
	return out, translate("list auth tokens", rows.Err())
}

// AuthToken returns one token of the user.
func (tx *Tx) AuthToken(ctx context.Context, appID, uid, token string) (*chat.AuthToken, error) {
	t, err := scanToken(tx.q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM auth_tokens WHERE app_id = ? AND uid = ? AND token = ?`, appID, uid, token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errTokenNotFound()
	}
	return t, translate("get auth token", err)
}

// TokenOwner returns the uid of an app's token.
func (tx *Tx) TokenOwner(ctx context.Context, appID, token string) (string, error) {
	var uid string
	err := tx.q.QueryRowContext(ctx, `SELECT uid FROM auth_tokens WHERE app_id = ? AND token = ?`, appID, token).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", chat.Errorf(chat.KindUnauthenticated, "AUTH_ERR_AUTH_TOKEN_NOT_FOUND", "The auth token does not exist.")
	}
	return uid, translate("get auth token", err)
}

// UpdateAuthToken writes a token's client information.
func (tx *Tx) UpdateAuthToken(ctx context.Context, appID string, t *chat.AuthToken) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE auth_tokens SET platform = ?, user_agent = ?, app_info = ?, updated_at = ? WHERE app_id = ? AND uid = ? AND token = ?`,
		t.Platform, t.UserAgent, t.AppInfo, t.UpdatedAt, appID, t.UID, t.Token)
	return translate("update auth token", err)
}

// DeleteAuthToken removes one token; deleting a missing one is NotFound.
func (tx *Tx) DeleteAuthToken(ctx context.Context, appID, uid, token string) error {
	res, err := tx.q.ExecContext(ctx, `DELETE FROM auth_tokens WHERE app_id = ? AND uid = ? AND token = ?`, appID, uid, token)
	if err != nil {
		return translate("delete auth token", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errTokenNotFound()
	}
	return nil
}

// DeleteAuthTokens removes every token of the user.
func (tx *Tx) DeleteAuthTokens(ctx context.Context, appID, uid string) error {
	_, err := tx.q.ExecContext(ctx, `DELETE FROM auth_tokens WHERE app_id = ? AND uid = ?`, appID, uid)
	return translate("delete auth tokens", err)
}

// PruneAuthTokens keeps the newest keep tokens of the user.
func (tx *Tx) PruneAuthTokens(ctx context.Context, appID, uid string, keep int) error {
	_, err := tx.q.ExecContext(ctx, `DELETE FROM auth_tokens WHERE app_id = ? AND uid = ? AND token NOT IN
		(SELECT token FROM auth_tokens WHERE app_id = ? AND uid = ? ORDER BY created_at DESC, token LIMIT ?)`, appID, uid, appID, uid, keep)
	return translate("prune auth tokens", err)
}
