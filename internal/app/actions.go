package app

import (
	"context"
	"slices"

	"parley/internal/chat"
	"parley/internal/store"
)

// groupAction is one membership change of a group, as recorded by
// postGroupAction.
type groupAction struct {
	guid   string
	action string     // chat.ActionJoined, ActionLeft, ...
	by     *chat.User // who did it; nil for the server (app_system)
	on     *chat.User // whose membership changed
	// oldScope and newScope are set for chat.ActionScopeChanged.
	oldScope, newScope string
}

// systemUser is the "by" entity of actions the server takes (an API key
// without onBehalfOf), in the shape CometChat uses for app_system.
func systemUser() *chat.User {
	return &chat.User{UID: chat.SystemUID, Name: "System", Role: chat.DefaultRole, Status: chat.StatusOffline}
}

// postGroupAction records one membership change as an action message in
// the group's conversation and queues its publication. It is the only
// writer of groupMember action messages: every membership use case calls
// it after changing the membership, inside the same transaction.
//
// The message's entities are snapshots taken now and stored with it: "by"
// the acting user (or app_system), "on" the user whose membership changed,
// "for" the group as it is after the change (so membersCount counts the
// change). The event goes to every member after the change plus the
// target, so that a kicked, banned or leaving user learns of it too.
func (a *App) postGroupAction(ctx context.Context, tx *store.Tx, fx *effects, appID string, act groupAction) (*chat.Message, error) {
	g, err := tx.Group(ctx, appID, act.guid)
	if err != nil {
		return nil, err
	}
	forGroup := *g
	forGroup.HasJoined, forGroup.Scope, forGroup.JoinedAt = false, "", 0

	by := systemUser()
	on := snapshotUser(act.on)
	if act.by != nil {
		by = snapshotUser(act.by)
		if err := a.presence(ctx, tx, appID, by, on); err != nil {
			return nil, err
		}
	} else if err := a.presence(ctx, tx, appID, on); err != nil {
		return nil, err
	}

	m := &chat.Message{
		ConversationID: chat.GroupConversationID(act.guid),
		Sender:         by.UID,
		ReceiverType:   chat.ReceiverGroup,
		Receiver:       act.guid,
		Category:       chat.CategoryAction,
		Type:           chat.ActionTypeGroupMember,
		Data: chat.MessageData{
			Action: act.action,
			Entities: &chat.Entities{
				By:  chat.UserEntity(by),
				On:  chat.UserEntity(on),
				For: &chat.Entity{Entity: &forGroup, EntityType: chat.ReceiverGroup},
			},
		},
		SentAt:    tx.Unix(),
		UpdatedAt: tx.Unix(),
	}
	if act.action == chat.ActionScopeChanged {
		m.Data.OldScope, m.Data.NewScope = act.oldScope, act.newScope
	}
	if err := tx.InsertMessage(ctx, appID, m); err != nil {
		return nil, err
	}
	audience, err := tx.GroupMemberUIDs(ctx, appID, act.guid)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(audience, on.UID) {
		audience = append(audience, on.UID)
	}
	fx.publish(appID, chat.EventGroupAction, m, audience)
	return m, nil
}

// snapshotUser copies the public profile of u for an action's entities,
// without per-viewer fields or a token.
func snapshotUser(u *chat.User) *chat.User {
	c := *u
	c.ConversationID, c.BlockedByMe, c.HasBlockedMe, c.AuthToken = "", false, false, ""
	return &c
}
