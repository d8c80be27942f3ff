package app

import (
	"context"

	"parley/internal/chat"
	"parley/internal/store"
)

// MembersInput is the body of add members, and the members of a group
// create.
type MembersInput struct {
	Admins       []string `json:"admins"`
	Moderators   []string `json:"moderators"`
	Participants []string `json:"participants"`
	UsersToBan   []string `json:"usersToBan"`
	// Password is the group's password when the call is a join
	// (docs/decisions/groups.md).
	Password string `json:"password"`
}

// MemberResults is the per-uid result map of add members, keyed like the
// request.
type MemberResults struct {
	Admins       map[string]MessageResult `json:"admins,omitempty"`
	Moderators   map[string]MessageResult `json:"moderators,omitempty"`
	Participants map[string]MessageResult `json:"participants,omitempty"`
	UsersToBan   map[string]MessageResult `json:"usersToBan,omitempty"`
}

// memberLists are the uids of a MembersInput, normalized: each uid once
// per purpose, a uid named with several scopes only under the highest
// (admin > moderator > participant, as CometChat documents).
type memberLists struct {
	admins, moderators, participants, bans []string
}

func (l memberLists) empty() bool {
	return len(l.admins)+len(l.moderators)+len(l.participants)+len(l.bans) == 0
}

// lists validates and normalizes the uids of in.
func (in *MembersInput) lists(v *chat.Validation) memberLists {
	var l memberLists
	seen := map[string]bool{}
	add := func(field string, raw []string, dst *[]string) {
		for _, uid := range raw {
			uid = chat.NormalizeID(uid)
			if uid == "" {
				v.Add(field, "The %s may not contain empty UIDs.", field)
				return
			}
			if !seen[uid] {
				seen[uid] = true
				*dst = append(*dst, uid)
			}
		}
	}
	add("admins", in.Admins, &l.admins)
	add("moderators", in.Moderators, &l.moderators)
	add("participants", in.Participants, &l.participants)
	clear(seen)
	add("usersToBan", in.UsersToBan, &l.bans)
	all := map[string]bool{}
	for _, list := range [][]string{l.admins, l.moderators, l.participants, l.bans} {
		for _, uid := range list {
			all[uid] = true
		}
	}
	if len(all) > chat.MaxMembersPerCall {
		v.Add("members", "At most %d UIDs per call across admins, moderators, participants and usersToBan.", chat.MaxMembersPerCall)
	}
	return l
}

// isJoinBy reports whether the lists ask for uid alone to become a
// participant (or name nobody): with onBehalfOf uid, that is a join.
func (l memberLists) isJoinBy(uid string) bool {
	if len(l.admins)+len(l.moderators)+len(l.bans) > 0 {
		return false
	}
	return len(l.participants) == 0 || len(l.participants) == 1 && l.participants[0] == uid
}

func errBannedMember(uid, guid string) error {
	return chat.Errorf(chat.KindForbidden, "ERR_BANNED_GROUPMEMBER", "The user %s is banned from the group %s.", uid, guid)
}

// errNotAMember is the error for a user who is not a member of the group:
// reading or sending to it, or the target of a kick or a scope change.
func errNotAMember(uid, guid string) error {
	return chat.Errorf(chat.KindForbidden, "ERR_NOT_A_MEMBER", "The user %s is not a member of the group %s.", uid, guid)
}

// activeUser is tx.ActiveUser for a uid from a request, which may not
// even be a legal uid.
func activeUser(ctx context.Context, tx *store.Tx, appID, uid string) (*chat.User, error) {
	if !chat.ValidID(uid) {
		return nil, store.ErrUIDNotFound(uid)
	}
	return tx.ActiveUser(ctx, appID, uid)
}

// AddMembers adds users to a group with the scopes they are listed under
// and bans the usersToBan, reporting per uid. With onBehalfOf the acting
// user must be an admin or a moderator and may grant at most its own
// scope. A call with onBehalfOf that names no one but that user as a
// participant is a join instead (see join).
func (a *App) AddMembers(ctx context.Context, c Caller, guid string, in MembersInput) (*MemberResults, error) {
	guid = chat.NormalizeID(guid)
	var v chat.Validation
	lists := in.lists(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if c.OnBehalfOf != "" && lists.isJoinBy(c.OnBehalfOf) {
		return a.join(ctx, c, guid, in.Password)
	}
	if lists.empty() {
		return nil, chat.Invalid("participants", "Name at least one UID in admins, moderators, participants or usersToBan.")
	}
	var out *MemberResults
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, g, perm, err := actOnGroup(ctx, tx, c, guid, chat.GroupActor.CanModerate)
		if err != nil {
			return err
		}
		out, err = a.addMembersTx(ctx, tx, fx, c.AppID, g, perm, me, lists)
		return err
	})
	return out, err
}

// addMembersTx adds and bans the users of lists, as perm allows, recording
// each change with by as the actor. A uid's own failure (unknown user,
// already a member, banned, not allowed) is reported in its result;
// any other error aborts the whole call.
func (a *App) addMembersTx(ctx context.Context, tx *store.Tx, fx *effects, appID string, g *chat.Group, perm chat.GroupActor, by *chat.User, lists memberLists) (*MemberResults, error) {
	res := &MemberResults{}
	record := func(results *map[string]MessageResult, uid string, m *chat.Message, err error) error {
		r, err := resultOf(m, err)
		if err != nil {
			return err
		}
		if *results == nil {
			*results = map[string]MessageResult{}
		}
		(*results)[uid] = r
		return nil
	}
	for _, part := range []struct {
		scope   string
		uids    []string
		results *map[string]MessageResult
	}{
		{chat.ScopeAdmin, lists.admins, &res.Admins},
		{chat.ScopeModerator, lists.moderators, &res.Moderators},
		{chat.ScopeParticipant, lists.participants, &res.Participants},
	} {
		for _, uid := range part.uids {
			m, err := a.addMember(ctx, tx, fx, appID, g.GUID, perm, by, uid, part.scope)
			if err := record(part.results, uid, m, err); err != nil {
				return nil, err
			}
		}
	}
	for _, uid := range lists.bans {
		m, err := a.ban(ctx, tx, fx, appID, g, perm, by, uid)
		if err := record(&res.UsersToBan, uid, m, err); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// addMember makes uid a member with the scope and records "added".
func (a *App) addMember(ctx context.Context, tx *store.Tx, fx *effects, appID, guid string, perm chat.GroupActor, by *chat.User, uid, scope string) (*chat.Message, error) {
	if err := perm.CanGrant(scope); err != nil {
		return nil, err
	}
	u, err := activeUser(ctx, tx, appID, uid)
	if err != nil {
		return nil, err
	}
	if err := canBecomeMember(ctx, tx, appID, guid, uid); err != nil {
		return nil, err
	}
	if err := tx.InsertMember(ctx, appID, guid, uid, scope, tx.Unix()); err != nil {
		return nil, err
	}
	return a.postGroupAction(ctx, tx, fx, appID, groupAction{guid: guid, action: chat.ActionAdded, by: by, on: u})
}

// canBecomeMember checks that uid may be added to the group or join it: it
// is not a member already and is not banned.
func canBecomeMember(ctx context.Context, tx *store.Tx, appID, guid, uid string) error {
	if _, _, member, err := tx.Membership(ctx, appID, guid, uid); err != nil {
		return err
	} else if member {
		return chat.Errorf(chat.KindConflict, "ERR_ALREADY_JOINED", "The user %s is already a member of the group %s.", uid, guid)
	}
	if banned, err := tx.Banned(ctx, appID, guid, uid); err != nil {
		return err
	} else if banned {
		return errBannedMember(uid, guid)
	}
	return nil
}

// memberTarget is the user a kick, a ban or a scope change acts on, with
// its membership of the group.
type memberTarget struct {
	user     *chat.User
	scope    string // "" when not a member
	joinedAt int64
	member   bool
}

// actOnMember loads uid, deactivated or not, with its membership of g, and
// checks that perm may act on it. A user who is not a member is
// ERR_NOT_A_MEMBER when requireMember (a kick or a scope change); a ban
// may name anyone.
func actOnMember(ctx context.Context, tx *store.Tx, appID string, g *chat.Group, perm chat.GroupActor, uid string, requireMember bool) (memberTarget, error) {
	u, err := activeOrNot(ctx, tx, appID, uid)
	if err != nil {
		return memberTarget{}, err
	}
	scope, joinedAt, member, err := tx.Membership(ctx, appID, g.GUID, uid)
	if err != nil {
		return memberTarget{}, err
	}
	if requireMember && !member {
		return memberTarget{}, errNotAMember(uid, g.GUID)
	}
	if err := perm.CanActOn(uid, scope, uid == g.Owner); err != nil {
		return memberTarget{}, err
	}
	return memberTarget{user: u, scope: scope, joinedAt: joinedAt, member: member}, nil
}

// ban bans uid from g, removing its membership if it has one, and records
// "banned". A ban that exists is ERR_ALREADY_BANNED.
func (a *App) ban(ctx context.Context, tx *store.Tx, fx *effects, appID string, g *chat.Group, perm chat.GroupActor, by *chat.User, uid string) (*chat.Message, error) {
	target, err := actOnMember(ctx, tx, appID, g, perm, uid, false)
	if err != nil {
		return nil, err
	}
	if err := tx.InsertBan(ctx, appID, g.GUID, uid, tx.Unix()); err != nil {
		return nil, err
	}
	if target.member {
		if _, err := tx.DeleteMember(ctx, appID, g.GUID, uid); err != nil {
			return nil, err
		}
	}
	return a.postGroupAction(ctx, tx, fx, appID, groupAction{guid: g.GUID, action: chat.ActionBanned, by: by, on: target.user})
}

// join makes the onBehalfOf user a participant of a public group, or of a
// password group with the right password, and records "joined".
//
// Checking a password costs tens of milliseconds of CPU (a slow hash), too
// long to hold the single writer: the hash is read and checked before the
// write transaction, which then requires the stored hash to be the one
// checked (a password changed in between fails as a wrong password).
func (a *App) join(ctx context.Context, c Caller, guid, password string) (*MemberResults, error) {
	var checked string
	passwordOK := false
	if password != "" {
		err := a.read(ctx, func(tx *store.Tx) error {
			g, err := tx.Group(ctx, c.AppID, guid)
			if err != nil {
				return err
			}
			checked = g.PasswordHash
			return nil
		})
		if err != nil {
			return nil, err
		}
		passwordOK = chat.CheckGroupPassword(checked, password)
	}
	var out *MemberResults
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, err := actor(ctx, tx, c, true)
		if err != nil {
			return err
		}
		g, err := tx.Group(ctx, c.AppID, guid)
		if err != nil {
			return err
		}
		if err := canBecomeMember(ctx, tx, c.AppID, guid, me.UID); err != nil {
			return err
		}
		switch g.Type {
		case chat.GroupPrivate:
			return chat.Errorf(chat.KindForbidden, "ERR_GROUP_JOIN_NOT_ALLOWED", "The group %s is private: only its admins and moderators can add members.", guid)
		case chat.GroupPassword:
			if password == "" {
				return chat.ErrEmptyGroupPassword()
			}
			if !passwordOK || g.PasswordHash != checked {
				return chat.Errorf(chat.KindForbidden, "ERR_WRONG_GROUP_PASS", "The password of the group %s is wrong.", guid)
			}
		}
		if err := tx.InsertMember(ctx, c.AppID, guid, me.UID, chat.ScopeParticipant, tx.Unix()); err != nil {
			return err
		}
		m, err := a.postGroupAction(ctx, tx, fx, c.AppID, groupAction{guid: guid, action: chat.ActionJoined, by: me, on: me})
		if err != nil {
			return err
		}
		out = &MemberResults{Participants: map[string]MessageResult{me.UID: {Success: true, Data: m}}}
		return nil
	})
	return out, err
}

// RemoveMember kicks uid from a group, or, when uid is the onBehalfOf user
// itself, makes it leave. The owner cannot leave: it transfers the
// ownership first (docs/decisions/groups.md). It returns the action
// message and whether it was a leave.
func (a *App) RemoveMember(ctx context.Context, c Caller, guid, uid string) (*chat.Message, bool, error) {
	guid, uid = chat.NormalizeID(guid), chat.NormalizeID(uid)
	var out *chat.Message
	leave := false
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, g, perm, err := actOnGroup(ctx, tx, c, guid, nil)
		if err != nil {
			return err
		}
		leave = me != nil && me.UID == uid
		if leave {
			if !perm.Member {
				return chat.Errorf(chat.KindForbidden, "ERR_GROUP_NOT_JOINED", "The user %s is not a member of the group %s.", uid, guid)
			}
			if perm.Owner {
				return chat.Errorf(chat.KindForbidden, "ERR_GROUP_OWNER_CANNOT_LEAVE",
					"The owner cannot leave the group %s: transfer the ownership first (PUT /v3/groups/%s with an owner).", guid, guid)
			}
			if _, err := tx.DeleteMember(ctx, c.AppID, guid, uid); err != nil {
				return err
			}
			out, err = a.postGroupAction(ctx, tx, fx, c.AppID, groupAction{guid: guid, action: chat.ActionLeft, by: me, on: me})
			return err
		}
		if err := perm.CanModerate(); err != nil {
			return err
		}
		target, err := actOnMember(ctx, tx, c.AppID, g, perm, uid, true)
		if err != nil {
			return err
		}
		if _, err := tx.DeleteMember(ctx, c.AppID, guid, uid); err != nil {
			return err
		}
		out, err = a.postGroupAction(ctx, tx, fx, c.AppID, groupAction{guid: guid, action: chat.ActionKicked, by: me, on: target.user})
		return err
	})
	return out, leave, err
}

// activeOrNot returns a user whether deactivated or not: members who were
// deactivated can still be kicked, banned or unbanned.
func activeOrNot(ctx context.Context, tx *store.Tx, appID, uid string) (*chat.User, error) {
	if !chat.ValidID(uid) {
		return nil, store.ErrUIDNotFound(uid)
	}
	return tx.User(ctx, appID, uid)
}

// ScopeChange is the answer to a scope change: CometChat's fields plus the
// action message.
type ScopeChange struct {
	GUID          string        `json:"guid"`
	UID           string        `json:"uid"`
	Scope         string        `json:"scope"`
	JoinedAt      int64         `json:"joinedAt"`
	ActionMessage *chat.Message `json:"actionMessage"`
}

// ChangeScope changes a member's scope and records "scopeChanged".
func (a *App) ChangeScope(ctx context.Context, c Caller, guid, uid, scope string) (*ScopeChange, error) {
	guid, uid = chat.NormalizeID(guid), chat.NormalizeID(uid)
	if scope == "" {
		return nil, chat.Invalid("scope", "The scope field is required.")
	}
	newScope, ok := chat.ParseScope(scope)
	if !ok {
		return nil, chat.Invalid("scope", "The scope must be admin, moderator or participant.")
	}
	var out *ScopeChange
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, g, perm, err := actOnGroup(ctx, tx, c, guid, chat.GroupActor.CanModerate)
		if err != nil {
			return err
		}
		target, err := actOnMember(ctx, tx, c.AppID, g, perm, uid, true)
		if err != nil {
			return err
		}
		oldScope := target.scope
		if err := perm.CanGrant(newScope); err != nil {
			return err
		}
		if newScope == oldScope {
			return chat.Errorf(chat.KindConflict, "ERR_SAME_SCOPE", "The user %s is already a %s of the group %s.", uid, oldScope, guid)
		}
		if err := tx.SetMemberScope(ctx, c.AppID, guid, uid, newScope); err != nil {
			return err
		}
		m, err := a.postGroupAction(ctx, tx, fx, c.AppID, groupAction{guid: guid, action: chat.ActionScopeChanged, by: me, on: target.user,
			oldScope: oldScope, newScope: newScope})
		if err != nil {
			return err
		}
		out = &ScopeChange{GUID: guid, UID: uid, Scope: newScope, JoinedAt: target.joinedAt, ActionMessage: m}
		return nil
	})
	return out, err
}

// BanMember bans uid from a group (removing its membership) and records
// "banned".
func (a *App) BanMember(ctx context.Context, c Caller, guid, uid string) (*chat.Message, error) {
	guid, uid = chat.NormalizeID(guid), chat.NormalizeID(uid)
	var out *chat.Message
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, g, perm, err := actOnGroup(ctx, tx, c, guid, chat.GroupActor.CanModerate)
		if err != nil {
			return err
		}
		out, err = a.ban(ctx, tx, fx, c.AppID, g, perm, me, uid)
		return err
	})
	return out, err
}

// UnbanMember lifts a ban and records "unbanned". The user does not become
// a member again.
func (a *App) UnbanMember(ctx context.Context, c Caller, guid, uid string) (*chat.Message, error) {
	guid, uid = chat.NormalizeID(guid), chat.NormalizeID(uid)
	var out *chat.Message
	err := a.write(ctx, func(tx *store.Tx, fx *effects) error {
		me, _, _, err := actOnGroup(ctx, tx, c, guid, chat.GroupActor.CanModerate)
		if err != nil {
			return err
		}
		target, err := activeOrNot(ctx, tx, c.AppID, uid)
		if err != nil {
			return err
		}
		if lifted, err := tx.DeleteBan(ctx, c.AppID, guid, uid); err != nil {
			return err
		} else if !lifted {
			return chat.Errorf(chat.KindNotFound, "ERR_NOT_A_BANNED_USER", "The user %s is not banned from the group %s.", uid, guid)
		}
		out, err = a.postGroupAction(ctx, tx, fx, c.AppID, groupAction{guid: guid, action: chat.ActionUnbanned, by: me, on: target})
		return err
	})
	return out, err
}

// ListMembers returns a page of a group's members and the total. With
// onBehalfOf, a private group's members are visible only to its members.
func (a *App) ListMembers(ctx context.Context, c Caller, guid string, f store.MemberFilter) ([]chat.Member, int, error) {
	guid = chat.NormalizeID(guid)
	var out []chat.Member
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		me, err := actor(ctx, tx, c, false)
		if err != nil {
			return err
		}
		if _, err := visibleGroup(ctx, tx, c.AppID, guid, me); err != nil {
			return err
		}
		if out, total, err = tx.ListMembers(ctx, c.AppID, guid, f); err != nil {
			return err
		}
		users := make([]*chat.User, len(out))
		for i := range out {
			if err := viewer(ctx, tx, c.AppID, me, &out[i].User); err != nil {
				return err
			}
			users[i] = &out[i].User
		}
		return a.presence(ctx, tx, c.AppID, users...)
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// ListBannedUsers returns a page of the users banned from a group and the
// total. With onBehalfOf only the group's admins and moderators may.
func (a *App) ListBannedUsers(ctx context.Context, c Caller, guid string, p store.Page) ([]chat.BannedUser, int, error) {
	guid = chat.NormalizeID(guid)
	var out []chat.BannedUser
	var total int
	err := a.read(ctx, func(tx *store.Tx) error {
		me, _, _, err := actOnGroup(ctx, tx, c, guid, chat.GroupActor.CanModerate)
		if err != nil {
			return err
		}
		if out, total, err = tx.ListBans(ctx, c.AppID, guid, p); err != nil {
			return err
		}
		users := make([]*chat.User, len(out))
		for i := range out {
			if err := viewer(ctx, tx, c.AppID, me, &out[i].User); err != nil {
				return err
			}
			users[i] = &out[i].User
		}
		return a.presence(ctx, tx, c.AppID, users...)
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
