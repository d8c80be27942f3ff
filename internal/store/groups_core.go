package store

import (
	"context"
	"database/sql"
	"errors"

	"parley/internal/chat"
)

const groupColumns = `guid, name, type, password_hash, icon, description, owner, metadata, tags, members_count, created_at, updated_at`

func scanGroup(row interface{ Scan(...any) error }) (*chat.Group, error) {
	g := &chat.Group{}
	var metadata, tags string
	err := row.Scan(&g.GUID, &g.Name, &g.Type, &g.PasswordHash, &g.Icon, &g.Description, &g.Owner, &metadata, &tags,
		&g.MembersCount, &g.CreatedAt, &g.UpdatedAt)
	g.Metadata = decodeRaw(metadata)
	g.Tags = decodeTags(tags)
	g.ConversationID = chat.GroupConversationID(g.GUID)
	return g, err
}

// ErrGUIDNotFound is the error for an unknown group.
func ErrGUIDNotFound(guid string) error {
	return chat.Errorf(chat.KindNotFound, "ERR_GUID_NOT_FOUND", "The group with GUID %s does not exist.", guid)
}

// Group returns one group.
func (tx *Tx) Group(ctx context.Context, appID, guid string) (*chat.Group, error) {
	g, err := scanGroup(tx.q.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM chat_groups WHERE app_id = ? AND guid = ?`, appID, guid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrGUIDNotFound(guid)
	}
	return g, translate("get group", err)
}

// Membership returns uid's scope and join time in the group; ok is false
// when uid is not a member.
func (tx *Tx) Membership(ctx context.Context, appID, guid, uid string) (scope string, joinedAt int64, ok bool, err error) {
	err = tx.q.QueryRowContext(ctx, `SELECT scope, joined_at FROM group_members WHERE app_id = ? AND guid = ? AND uid = ?`, appID, guid, uid).
		Scan(&scope, &joinedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, translate("get membership", err)
	}
	return scope, joinedAt, true, nil
}
