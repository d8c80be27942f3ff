package api

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.SendInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.MultipleReceivers != nil {
		res, err := s.app.SendMulti(r.Context(), c, in)
		if err != nil {
			return err
		}
		return ok(w, res)
	}
	m, err := s.app.SendMessage(r.Context(), c, in)
	if err != nil {
		return err
	}
	return okEncoded(w, m)
}

// cursorMeta is the meta of cursor-based lists: the page just returned
// and the cursor of the following one (docs/decisions/message-cursors.md).
func cursorMeta(limit, count int, next store.Cursor) any {
	type current struct {
		Limit int `json:"limit"`
		Count int `json:"count"`
	}
	type cursor struct {
		Affix  string `json:"affix"`
		ID     string `json:"id"`
		SentAt int64  `json:"sentAt"`
	}
	return struct {
		Current current `json:"current"`
		Next    cursor  `json:"next"`
	}{current{limit, count}, cursor{next.Affix, strconv.FormatInt(next.ID, 10), next.SentAt}}
}

func parseAffix(s string) (string, bool) {
	switch strings.ToLower(s) {
	case store.AffixAppend:
		return store.AffixAppend, true
	case store.AffixPrepend:
		return store.AffixPrepend, true
	}
	return "", false
}

func parseAttachmentType(s string) (string, bool) {
	t, ok := chat.ParseMessageType(s)
	return t, ok && t != chat.TypeText
}

// messageListInput reads the parameters shared by every message list.
// Parameters CometChat documents that parley does not support yet
// (hasReactions, count, mentionsWithBlockedInfo, mentionsWithTagInfo) are
// ignored; docs/decisions/message-cursors.md lists them.
func messageListInput(q *query) app.MessageListInput {
	var in app.MessageListInput
	f := &in.MessageFilter
	f.Limit = int(q.integer("limit", 100, 1, 1000))
	if !q.has("limit") && q.has("perPage") {
		f.Limit = int(q.integer("perPage", 100, 1, 1000))
	}
	f.Cursor = store.Cursor{
		Affix:  q.enum("affix", parseAffix),
		ID:     q.integer("id", 0, 0, math.MaxInt64),
		SentAt: q.integer("sentAt", 0, 0, math.MaxInt64),
	}
	for _, c := range append(q.list("category"), q.list("categories")...) {
		if v, ok := chat.ParseAnyCategory(c); ok {
			f.Categories = append(f.Categories, v)
		} else {
			q.v.Add("category", "The category %q is not one of message, custom, action, call, interactive.", c)
		}
	}
	f.Types = append(q.list("type"), q.list("types")...)
	hide, only := q.boolean("hideDeleted"), q.boolean("onlyDeleted")
	switch {
	case hide && only:
		q.v.Add("hideDeleted", "The hideDeleted and onlyDeleted parameters cannot both be true.")
	case hide:
		f.Deleted = store.HideDeleted
	case only:
		f.Deleted = store.OnlyDeleted
	}
	f.HideReplies = q.boolean("hideReplies")
	f.SearchKey = q.str("searchKey")
	q.boolean("withTags") // tags are always returned; validated only
	if q.has("tags") {
		f.Tags = q.list("tags")
	}
	f.FromTimestamp = q.integer("fromTimestamp", 0, 0, math.MaxInt64)
	f.ToTimestamp = q.integer("toTimestamp", 0, 0, math.MaxInt64)
	if f.FromTimestamp > 0 && f.ToTimestamp > 0 && f.ToTimestamp < f.FromTimestamp {
		q.v.Add("toTimestamp", "The toTimestamp may not be before fromTimestamp.")
	}
	f.HasMentions = q.boolean("hasMentions")
	for _, u := range q.list("mentionedUids") {
		f.MentionedUIDs = append(f.MentionedUIDs, chat.NormalizeID(u))
	}
	f.HasAttachments = q.boolean("hasAttachments")
	for _, t := range q.list("attachmentTypes") {
		if v, ok := parseAttachmentType(t); ok {
			f.AttachmentTypes = append(f.AttachmentTypes, v)
		} else {
			q.v.Add("attachmentTypes", "The attachment type %q is not one of image, video, audio, file.", t)
		}
	}
	f.HasLinks = q.boolean("hasLinks")
	f.Sender = chat.NormalizeID(q.str("sender"))
	in.Unread = q.boolean("unread")
	in.Undelivered = q.boolean("undelivered")
	in.HideBlocked = q.boolean("hideMessagesFromBlockedUsers")
	in.MyMentionsOnly = q.boolean("myMentionsOnly")
	return in
}

// answerMessages writes a page of messages with its cursor meta.
func answerMessages(w http.ResponseWriter, limit int, msgs []*chat.Message, next store.Cursor) error {
	return okMeta(w, msgs, cursorMeta(limit, len(msgs), next))
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	in := messageListInput(q)
	in.ReceiverType = q.enum("receiverType", chat.ParseReceiverType)
	if id := q.str("conversationId"); id != "" {
		if _, _, _, ok := chat.ParseConversationID(id); !ok {
			q.v.Add("conversationId", "The conversationId %q is not group_<guid> or <uid>_user_<uid>.", id)
		}
		in.ConversationID = id
	}
	if err := q.err(); err != nil {
		return err
	}
	msgs, next, err := s.app.ListMessages(r.Context(), c, in)
	if err != nil {
		return err
	}
	return answerMessages(w, in.Limit, msgs, next)
}

func (s *Server) listUserMessages(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	in := messageListInput(q)
	if err := q.err(); err != nil {
		return err
	}
	msgs, next, err := s.app.ListUserMessages(r.Context(), c, pathID(r, "uid"), in)
	if err != nil {
		return err
	}
	return answerMessages(w, in.Limit, msgs, next)
}

func (s *Server) listGroupMessages(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	in := messageListInput(q)
	if err := q.err(); err != nil {
		return err
	}
	msgs, next, err := s.app.ListGroupMessages(r.Context(), c, pathID(r, "guid"), in)
	if err != nil {
		return err
	}
	return answerMessages(w, in.Limit, msgs, next)
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	id, err := pathMessageID(r)
	if err != nil {
		return err
	}
	m, err := s.app.Message(r.Context(), c, id)
	if err != nil {
		return err
	}
	return ok(w, m)
}

func (s *Server) editMessage(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	id, err := pathMessageID(r)
	if err != nil {
		return err
	}
	var in app.EditInput
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := s.app.EditMessage(r.Context(), c, id, in)
	if err != nil {
		return err
	}
	return ok(w, m)
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	id, err := pathMessageID(r)
	if err != nil {
		return err
	}
	var in struct {
		Permanent bool `json:"permanent"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	q := newQuery(r)
	if q.boolean("permanent") {
		in.Permanent = true
	}
	if err := q.err(); err != nil {
		return err
	}
	m, err := s.app.DeleteMessage(r.Context(), c, id, in.Permanent)
	if err != nil {
		return err
	}
	if in.Permanent {
		return ok(w, map[string]any{"success": true, "id": strconv.FormatInt(id, 10),
			"message": "The message " + strconv.FormatInt(id, 10) + " has been deleted permanently."})
	}
	return ok(w, m)
}

func (s *Server) sendThreadMessage(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	id, err := pathMessageID(r)
	if err != nil {
		return err
	}
	var in app.SendInput
	if err := decode(r, &in); err != nil {
		return err
	}
	m, err := s.app.SendThreadMessage(r.Context(), c, id, in)
	if err != nil {
		return err
	}
	return ok(w, m)
}

func (s *Server) listThread(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	id, err := pathMessageID(r)
	if err != nil {
		return err
	}
	q := newQuery(r)
	in := messageListInput(q)
	// CometChat's spec lists page-based parameters for this route while
	// answering with cursors; parley pages threads with cursors only.
	if p := q.str("page"); p != "" && p != "1" {
		q.v.Add("page", "Threads are paged with cursors: follow meta.next (affix, id) instead of page.")
	}
	if err := q.err(); err != nil {
		return err
	}
	msgs, next, err := s.app.ListThread(r.Context(), c, id, in)
	if err != nil {
		return err
	}
	return answerMessages(w, in.Limit, msgs, next)
}
