package app

import (
	"context"
	"encoding/json"

	"parley/internal/chat"
	"parley/internal/store"
)

// GroupInput is the body of group create and update. Pointers tell
// "absent" from "empty".
type GroupInput struct {
	GUID        *string         `json:"guid"`
	Name        *string         `json:"name"`
	Type        *string         `json:"type"`
	Password    *string         `json:"password"`
	Icon        *string         `json:"icon"`
	Description *string         `json:"description"`
	Metadata    json.RawMessage `json:"metadata"`
	Owner       *string         `json:"owner"`
	Tags        *[]string       `json:"tags"`
	// Members are added right after a create.
	Members *MembersInput `json:"members"`
	// Unset lists fields to clear on update: icon, description, metadata,
	// tags.
	Unset []string `json:"unset"`
}

// GroupResult is a created group, with the per-uid results of the members
// the create named.
type GroupResult struct {
	*chat.Group
	Members *MemberResults `json:"members,omitempty"`
}

// validateGroupFields checks the optional fields shared by create and
// update, and normalizes type and owner in place.
func validateGroupFields(v *chat.Validation, in *GroupInput) {
	if in.Type != nil {
		t, ok := chat.ParseGroupType(*in.Type)
		if !ok {
			v.Add("type", "The type must be public, password or private.")
		}
		in.Type = &t
	}
	if in.Icon != nil {
		chat.ValidateURL(v, "icon", *in.Icon)
	}
	if in.Description != nil {
		chat.ValidateDescription(v, *in.Description)
	}
	if in.Password != nil {
		chat.ValidateGroupPassword(v, *in.Password)
	}
	chat.ValidateMetadata(v, "metadata", in.Metadata)
	if in.Tags != nil {
		chat.ValidateTags(v, "tags", *in.Tags)
	}
	if in.Owner != nil {
		o := chat.NormalizeID(*in.Owner)
		switch {
		case o == "":
			in.Owner = nil // an empty owner names nobody: as if absent
		case !chat.ValidID(o):
			v.Add("owner", "The owner must be the UID of an existing user.")
		default:
			in.Owner = &o
		}
	}
}

// groupActor returns who acts on g: the server when me is nil, else me
// with its membership of g.
func groupActor(ctx context.Context, tx *store.Tx, appID string, g *chat.Group, me *chat.User) (chat.GroupActor, error) {
	if me == nil {
		return chat.ServerActor, nil
	}
	scope, _, member, err := tx.Membership(ctx, appID, g.GUID, me.UID)
	if err != nil {
		return chat.GroupActor{}, err
	}
	return chat.GroupActor{UID: me.UID, Member: member, Scope: scope, Owner: member && g.Owner == me.UID}, nil
}

// actOnGroup loads, in tx, what a use case that changes a group or its
// members starts from: the caller's user (nil for the API key alone), the
// group, and the caller's standing in it, which need (a GroupActor check
// such as chat.GroupActor.CanModerate; nil for none) must accept.
func actOnGroup(ctx context.Context, tx *store.Tx, c Caller, guid string, need func(chat.GroupActor) error) (*chat.User, *chat.Group, chat.GroupActor, error) {
	me, err := actor(ctx, tx, c, false)
	if err != nil {
		return nil, nil, chat.GroupActor{}, err
	}
	g, err := tx.Group(ctx, c.AppID, guid)
	if err != nil {
		return nil, nil, chat.GroupActor{}, err
	}
	perm, err := groupActor(ctx, tx, c.AppID, g, me)
	if err != nil {
		return nil, nil, chat.GroupActor{}, err
	}
	if need != nil {
		if err := need(perm); err != nil {
			return nil, nil, chat.GroupActor{}, err
		}
	}
	return me, g, perm, nil
}

// viewGroup fills the per-viewer fields of g for me (nothing when me is
// nil) and reports whether me may see g at all: a private group is
// visible only to its members (docs/decisions/groups.md).
func viewGroup(ctx context.Context, tx *store.Tx, appID string, g *chat.Group, me *chat.User) (bool, error) {
	g.HasJoined, g.Scope, g.JoinedAt = false, "", 0
	if me == nil {
		return true, nil
	}
	scope, joinedAt, member, err := tx.Membership(ctx, appID, g.GUID, me.UID)
	if err != nil {
		return false, err
	}
	if member {
		g.HasJoined, g.Scope, g.JoinedAt = true, scope, joinedAt
	}
	return member || g.Type != chat.GroupPrivate, nil
}

// visibleGroup returns the group as me sees it; a private group me is not
// a member of is ERR_GUID_NOT_FOUND.
func visibleGroup(ctx context.Context, tx *store.Tx, appID, guid string, me *chat.User) (*chat.Group, error) {
	g, err := tx.Group(ctx, appID, guid)
	if err != nil {
		return nil, err
	}
	visible, err := viewGroup(ctx, tx, appID, g, me)
	if err != nil {
		return nil, err
	}
	if !visible {
		return nil, store.ErrGUIDNotFound(guid)
	}
	return g, nil
}

// CreateGroup creates a group. Its owner (the owner field, else the
// onBehalfOf user) becomes its first member, an admin; the members named
// in the body are then added as by AddMembers, on behalf of the creator
// but without permission checks.
func (a *App) CreateGroup(ctx context.Context, c Caller, in GroupInput) (*GroupResult, error) {
	var v chat.Validation
	guid := deref(in.GUID)
	chat.ValidateID(&v, "guid", &guid)
	chat.ValidateName(&v, "name", deref(in.Name), true)
	if in.Type == nil || *in.Type == "" {
		v.Add("type", "The type field is required.")
		in.Type = nil
	}
	validateGroupFields(&v, &in)
	var lists memberLists
	if in.Members != nil {
		lists = in.Members.lists(&v)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var hash string
	if *in.Type == chat.GroupPassword {
		if deref(in.Password) == "" {
			return nil, chat.ErrEmptyGroupPassword()
		}
		hash = chat.HashGroupPassword(*in.Password) // slow: outside the transaction
	}
	var out *GroupResult
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, err := actor(ctx, tx, c, false)
		if err != nil {
			return err
		}
		var owner *chat.User
		switch {
		case in.Owner != nil:
			if owner, err = tx.ActiveUser(ctx, c.AppID, *in.Owner); err != nil {
				return err
			}
		case me != nil:
			owner = me
		}
		g := &chat.Group{GUID: guid, Name: *in.Name, Type: *in.Type, PasswordHash: hash, Icon: deref(in.Icon),
			Description: deref(in.Description), Metadata: in.Metadata, CreatedAt: tx.Unix()}
		if in.Tags != nil {
			g.Tags = *in.Tags
		}
		if owner != nil {
			g.Owner = owner.UID
		}
		if err := tx.InsertGroup(ctx, c.AppID, g); err != nil {
			return err
		}
		if owner != nil {
			if err := tx.InsertMember(ctx, c.AppID, guid, owner.UID, chat.ScopeAdmin, tx.Unix()); err != nil {
				return err
			}
		}
		res := &GroupResult{}
		if !lists.empty() {
			if res.Members, err = a.addMembersTx(ctx, tx, fx, c.AppID, g, chat.ServerActor, me, lists); err != nil {
				return err
			}
		}
		if res.Group, err = tx.Group(ctx, c.AppID, guid); err != nil {
			return err
		}
		if _, err := viewGroup(ctx, tx, c.AppID, res.Group, me); err != nil {
			return err
		}
		out = res
		return nil
	})
	return out, err
}

// Group returns one group; with onBehalfOf, as that user sees it.
func (a *App) Group(ctx context.Context, c Caller, guid string) (*chat.Group, error) {
	guid = chat.NormalizeID(guid)
	var out *chat.Group
	err := a.read(ctx, func(tx *store.Tx) error {
		me, err := actor(ctx, tx, c, false)
		if err != nil {
			return err
		}
		out, err = visibleGroup(ctx, tx, c.AppID, guid, me)
		return err
	})
	return out, err
}

// GroupListInput are the query parameters of the group list.
type GroupListInput struct {
	store.GroupFilter
	HasJoined bool // only the groups the onBehalfOf user is a member of
}

// ListGroups returns a page of groups and the total. With onBehalfOf the
// user's private groups are listed only if it is a member of them.
func (a *App) ListGroups(ctx context.Context, c Caller, in GroupListInput) ([]chat.Group, int, error) {
	var out []chat.Group
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		me, err := actor(ctx, tx, c, in.HasJoined)
		if err != nil {
			return err
		}
		f := in.GroupFilter
		if me != nil {
			f.Viewer = me.UID
			f.JoinedOnly = in.HasJoined
		}
		out, total, err = tx.ListGroups(ctx, c.AppID, f)
		return err
	})
	return out, total, err
}

// UpdateGroup changes a group. With onBehalfOf only an admin of the group
// may; the owner field is then honoured only from the owner itself (it
// transfers the ownership) and ignored from anyone else, as CometChat
// ignores it with onBehalfOf.
func (a *App) UpdateGroup(ctx context.Context, c Caller, guid string, in GroupInput) (*chat.Group, error) {
	guid = chat.NormalizeID(guid)
	var v chat.Validation
	if in.Name != nil {
		chat.ValidateName(&v, "name", *in.Name, true)
	}
	validateGroupFields(&v, &in)
	for _, f := range in.Unset {
		switch f {
		case "icon", "description", "metadata", "tags":
		default:
			v.Add("unset", "The unset field %q is not one of icon, description, metadata, tags.", f)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var hash string
	if deref(in.Password) != "" {
		hash = chat.HashGroupPassword(*in.Password) // slow: outside the transaction
	}
	var out *chat.Group
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, g, perm, err := actOnGroup(ctx, tx, c, guid, chat.GroupActor.CanAdminister)
		if err != nil {
			return err
		}
		setIf(&g.Name, in.Name)
		setIf(&g.Icon, in.Icon)
		setIf(&g.Description, in.Description)
		if in.Metadata != nil {
			g.Metadata = in.Metadata
		}
		if in.Tags != nil {
			g.Tags = *in.Tags
		}
		for _, f := range in.Unset {
			switch f {
			case "icon":
				g.Icon = ""
			case "description":
				g.Description = ""
			case "metadata":
				g.Metadata = nil
			case "tags":
				g.Tags = nil
			}
		}
		newType := g.Type
		if in.Type != nil {
			newType = *in.Type
		}
		switch {
		case newType != chat.GroupPassword:
			g.PasswordHash = ""
		case hash != "":
			g.PasswordHash = hash
		case g.Type != chat.GroupPassword || g.PasswordHash == "":
			return chat.ErrEmptyGroupPassword()
		}
		g.Type = newType
		var newOwner *chat.User
		if in.Owner != nil && *in.Owner != g.Owner && (perm.IsServer() || perm.Owner) {
			if newOwner, err = tx.ActiveUser(ctx, c.AppID, *in.Owner); err != nil {
				return err
			}
			if banned, err := tx.Banned(ctx, c.AppID, guid, newOwner.UID); err != nil {
				return err
			} else if banned {
				return errBannedMember(newOwner.UID, guid)
			}
			g.Owner = newOwner.UID
		}
		g.UpdatedAt = tx.Unix()
		if err := tx.UpdateGroup(ctx, c.AppID, g); err != nil {
			return err
		}
		if newOwner != nil {
			if err := a.makeOwnerAdmin(ctx, tx, fx, c.AppID, guid, me, newOwner); err != nil {
				return err
			}
		}
		if out, err = tx.Group(ctx, c.AppID, guid); err != nil {
			return err
		}
		_, err = viewGroup(ctx, tx, c.AppID, out, me)
		return err
	})
	return out, err
}

// makeOwnerAdmin makes a group's new owner an admin member: it is added
// ("added") or promoted ("scopeChanged"), so the change shows in the
// group's history like any other membership change.
func (a *App) makeOwnerAdmin(ctx context.Context, tx *store.Tx, fx *effects, appID, guid string, by, owner *chat.User) error {
	scope, _, member, err := tx.Membership(ctx, appID, guid, owner.UID)
	if err != nil {
		return err
	}
	switch {
	case !member:
		if err := tx.InsertMember(ctx, appID, guid, owner.UID, chat.ScopeAdmin, tx.Unix()); err != nil {
			return err
		}
		_, err = a.postGroupAction(ctx, tx, fx, appID, groupAction{guid: guid, action: chat.ActionAdded, by: by, on: owner})
		return err
	case scope != chat.ScopeAdmin:
		if err := tx.SetMemberScope(ctx, appID, guid, owner.UID, chat.ScopeAdmin); err != nil {
			return err
		}
		_, err = a.postGroupAction(ctx, tx, fx, appID, groupAction{guid: guid, action: chat.ActionScopeChanged, by: by, on: owner,
			oldScope: scope, newScope: chat.ScopeAdmin})
		return err
	}
	return nil
}

// DeleteGroup removes a group with its members, bans, conversation and
// messages. With onBehalfOf only an admin of the group may.
func (a *App) DeleteGroup(ctx context.Context, c Caller, guid string) error {
	guid = chat.NormalizeID(guid)
	return a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if _, _, _, err := actOnGroup(ctx, tx, c, guid, chat.GroupActor.CanAdminister); err != nil {
			return err
		}
		return tx.DeleteGroup(ctx, c.AppID, guid)
	})
}
