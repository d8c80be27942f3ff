package app

import (
	"context"
	"encoding/json"

	"parley/internal/chat"
	"parley/internal/store"
)

// UserInput is the body of user create and update. Pointers tell "absent"
// from "empty".
type UserInput struct {
	UID           *string         `json:"uid"`
	Name          *string         `json:"name"`
	Avatar        *string         `json:"avatar"`
	Link          *string         `json:"link"`
	Role          *string         `json:"role"`
	StatusMessage *string         `json:"statusMessage"`
	Metadata      json.RawMessage `json:"metadata"`
	Tags          *[]string       `json:"tags"`
	WithAuthToken bool            `json:"withAuthToken"`
	// Unset lists fields to clear on update: avatar, link, metadata,
	// statusMessage, tags.
	Unset []string `json:"unset"`
}

func validateUserFields(v *chat.Validation, in *UserInput) {
	if in.Avatar != nil {
		chat.ValidateURL(v, "avatar", *in.Avatar)
	}
	if in.Link != nil {
		chat.ValidateURL(v, "link", *in.Link)
	}
	if in.Role != nil {
		r := chat.NormalizeID(*in.Role)
		if r == "" || len(r) > chat.MaxRoleLen || !chat.ValidID(r) {
			v.Add("role", "The role may only contain letters, numbers, dashes and underscores (at most %d).", chat.MaxRoleLen)
		}
		in.Role = &r
	}
	if in.StatusMessage != nil && len([]rune(*in.StatusMessage)) > chat.MaxStatusMessage {
		v.Add("statusMessage", "The statusMessage may not be greater than %d characters.", chat.MaxStatusMessage)
	}
	chat.ValidateMetadata(v, "metadata", in.Metadata)
	if in.Tags != nil {
		chat.ValidateTags(v, "tags", *in.Tags)
	}
}

// CreateUser creates a user, with an auth token when asked.
func (a *App) CreateUser(ctx context.Context, c Caller, in UserInput) (*chat.User, error) {
	var v chat.Validation
	uid := deref(in.UID)
	chat.ValidateID(&v, "uid", &uid)
	chat.ValidateName(&v, "name", deref(in.Name), true)
	validateUserFields(&v, &in)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *chat.User
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		u := &chat.User{UID: uid, Name: *in.Name, Avatar: deref(in.Avatar), Link: deref(in.Link), Role: chat.DefaultRole,
			StatusMessage: deref(in.StatusMessage), Metadata: in.Metadata, CreatedAt: tx.Unix()}
		if in.Role != nil {
			u.Role = *in.Role
		}
		if in.Tags != nil {
			u.Tags = *in.Tags
		}
		if err := tx.InsertUser(ctx, c.AppID, u); err != nil {
			return err
		}
		if in.WithAuthToken {
			t, err := a.newToken(ctx, tx, c.AppID, uid)
			if err != nil {
				return err
			}
			u.AuthToken = t.Token
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := a.presence(ctx, nil, c.AppID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// viewer fills the per-viewer fields of u as seen by viewer.
func viewer(ctx context.Context, tx *store.Tx, appID string, viewer *chat.User, u *chat.User) error {
	if viewer == nil || viewer.UID == u.UID {
		return nil
	}
	u.ConversationID = chat.UserConversationID(viewer.UID, u.UID)
	var err error
	u.BlockedByMe, u.HasBlockedMe, err = tx.BlockState(ctx, appID, viewer.UID, u.UID)
	return err
}

// User returns one user; with onBehalfOf, as seen by that user.
func (a *App) User(ctx context.Context, c Caller, uid string) (*chat.User, error) {
	uid = chat.NormalizeID(uid)
	var out *chat.User
	err := a.read(ctx, func(tx *store.Tx) error {
		me, err := actor(ctx, tx, c, false)
		if err != nil {
			return err
		}
		if out, err = tx.User(ctx, c.AppID, uid); err != nil {
			return err
		}
		if err := viewer(ctx, tx, c.AppID, me, out); err != nil {
			return err
		}
		return a.presence(ctx, tx, c.AppID, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UserListInput are the query parameters of the user list.
type UserListInput struct {
	store.UserFilter
	Status string // available | offline
}

// ListUsers returns a page of users and the total.
func (a *App) ListUsers(ctx context.Context, c Caller, in UserListInput) ([]chat.User, int, error) {
	var out []chat.User
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		me, err := actor(ctx, tx, c, false)
		if err != nil {
			return err
		}
		f := in.UserFilter
		if in.Status != "" {
			// Presence lives in memory: filter the page by it (documented:
			// the total then counts the page's matches only).
			f.Page = store.Page{PerPage: 1000 * 1000, Number: 1}
		}
		if out, total, err = tx.ListUsers(ctx, c.AppID, f); err != nil {
			return err
		}
		users := make([]*chat.User, len(out))
		for i := range out {
			if err := viewer(ctx, tx, c.AppID, me, &out[i]); err != nil {
				return err
			}
			users[i] = &out[i]
		}
		return a.presence(ctx, tx, c.AppID, users...)
	})
	if err != nil {
		return nil, 0, err
	}
	if in.Status != "" {
		kept := out[:0]
		for _, u := range out {
			if u.Status == in.Status {
				kept = append(kept, u)
			}
		}
		total = len(kept)
		p := in.Page
		start := min(p.Offset(), len(kept))
		out = kept[start:min(start+p.PerPage, len(kept))]
	}
	return out, total, nil
}

// UpdateUser changes a user's profile.
func (a *App) UpdateUser(ctx context.Context, c Caller, uid string, in UserInput) (*chat.User, error) {
	uid = chat.NormalizeID(uid)
	var v chat.Validation
	if in.Name != nil {
		chat.ValidateName(&v, "name", *in.Name, true)
	}
	validateUserFields(&v, &in)
	for _, f := range in.Unset {
		switch f {
		case "avatar", "link", "metadata", "statusMessage", "tags":
		default:
			v.Add("unset", "The unset field %q is not one of avatar, link, metadata, statusMessage, tags.", f)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *chat.User
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		u, err := tx.User(ctx, c.AppID, uid)
		if err != nil {
			return err
		}
		setIf(&u.Name, in.Name)
		setIf(&u.Avatar, in.Avatar)
		setIf(&u.Link, in.Link)
		setIf(&u.Role, in.Role)
		setIf(&u.StatusMessage, in.StatusMessage)
		if in.Metadata != nil {
			u.Metadata = in.Metadata
		}
		if in.Tags != nil {
			u.Tags = *in.Tags
		}
		for _, f := range in.Unset {
			switch f {
			case "avatar":
				u.Avatar = ""
			case "link":
				u.Link = ""
			case "metadata":
				u.Metadata = nil
			case "statusMessage":
				u.StatusMessage = ""
			case "tags":
				u.Tags = nil
			}
		}
		u.UpdatedAt = tx.Unix()
		out = u
		return tx.UpdateUser(ctx, c.AppID, u)
	})
	if err != nil {
		return nil, err
	}
	if err := a.presence(ctx, nil, c.AppID, out); err != nil {
		return nil, err
	}
	return out, nil
}

func setIf(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

// DeleteUser deactivates a user (soft) or removes it with its messages and
// conversations (permanent).
func (a *App) DeleteUser(ctx context.Context, c Caller, uid string, permanent bool) error {
	uid = chat.NormalizeID(uid)
	return a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if _, err := tx.User(ctx, c.AppID, uid); err != nil {
			return err
		}
		if permanent {
			return tx.DeleteUserPermanently(ctx, c.AppID, uid)
		}
		_, err := tx.SetDeactivated(ctx, c.AppID, []string{uid}, tx.Unix())
		return err
	})
}

// SetUsersActive deactivates (active=false) or reactivates users in bulk
// and returns the uids it changed. Unknown uids are skipped.
func (a *App) SetUsersActive(ctx context.Context, c Caller, uids []string, active bool) ([]string, error) {
	if len(uids) == 0 {
		field := "uidsToDeactivate"
		if active {
			field = "uidsToActivate"
		}
		return nil, chat.Invalid(field, "The %s field must be a non-empty list of UIDs.", field)
	}
	if len(uids) > 1000 {
		return nil, chat.Invalid("uids", "At most 1000 UIDs per call.")
	}
	norm := make([]string, len(uids))
	for i, u := range uids {
		norm[i] = chat.NormalizeID(u)
	}
	var changed []string
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		at := tx.Unix()
		if active {
			at = 0
		}
		var err error
		changed, err = tx.SetDeactivated(ctx, c.AppID, norm, at)
		return err
	})
	if changed == nil {
		changed = []string{}
	}
	return changed, err
}

// BlockUsers makes uid block each of uids (existing users only) and
// returns per-uid results.
func (a *App) BlockUsers(ctx context.Context, c Caller, uid string, uids []string, block bool) (map[string]BulkResult, error) {
	uid = chat.NormalizeID(uid)
	if len(uids) == 0 {
		return nil, chat.Invalid("blockedUids", "The blockedUids field must be a non-empty list of UIDs.")
	}
	out := make(map[string]BulkResult, len(uids))
	err := a.write(ctx, func(tx *store.Tx, _ *effects) error {
		clear(out)
		if _, err := tx.ActiveUser(ctx, c.AppID, uid); err != nil {
			return err
		}
		var ok []string
		for _, b := range uids {
			b = chat.NormalizeID(b)
			switch _, err := tx.User(ctx, c.AppID, b); {
			case b == uid:
				out[b] = BulkResult{Success: false, Message: "A user cannot block itself."}
			case chat.KindOf(err) == chat.KindNotFound:
				out[b] = BulkResult{Success: false, Message: "The UID " + b + " does not exist."}
			case err != nil:
				return err
			default:
				ok = append(ok, b)
				out[b] = BulkResult{Success: true}
			}
		}
		if block {
			return tx.Block(ctx, c.AppID, uid, ok)
		}
		return tx.Unblock(ctx, c.AppID, uid, ok)
	})
	return out, err
}

// BlockedUsers lists the users uid has blocked.
func (a *App) BlockedUsers(ctx context.Context, c Caller, uid string) ([]chat.User, error) {
	uid = chat.NormalizeID(uid)
	var out []chat.User
	err := a.read(ctx, func(tx *store.Tx) error {
		if _, err := tx.User(ctx, c.AppID, uid); err != nil {
			return err
		}
		uids, err := tx.BlockedUIDs(ctx, c.AppID, uid)
		if err != nil {
			return err
		}
		users, err := tx.UsersByUID(ctx, c.AppID, uids)
		if err != nil {
			return err
		}
		for _, b := range uids {
			if u := users[b]; u != nil {
				u.BlockedByMe = true
				out = append(out, *u)
			}
		}
		list := make([]*chat.User, len(out))
		for i := range out {
			list[i] = &out[i]
		}
		return a.presence(ctx, tx, c.AppID, list...)
	})
	return out, err
}

// BulkResult is one entry of a per-uid result map.
type BulkResult struct {
	Success bool   `json:"success"`
	Message string `json:"message,omitempty"`
	Data    any    `json:"data,omitempty"`
}
