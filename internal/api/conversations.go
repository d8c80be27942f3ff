package api

import (
	"net/http"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

func (s *Server) listConversations(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	f := store.ConversationFilter{
		Type:      q.enum("conversationType", chat.ParseReceiverType),
		SearchKey: q.str("searchKey"),
		UserTags:  q.list("userTags"),
		GroupTags: q.list("groupTags"),
		Unread:    q.boolean("unread"),
		Page:      q.page(),
	}
	q.boolean("withTags")             // tags are always returned; validated only
	q.boolean("withUserAndGroupTags") // idem
	if q.has("tags") {
		f.Tags = q.list("tags")
	}
	if err := q.err(); err != nil {
		return err
	}
	list, total, err := s.app.ListConversations(r.Context(), c, f)
	if err != nil {
		return err
	}
	return okMeta(w, list, pageMeta(total, len(list), f.Page.PerPage, f.Page.Number))
}

func (s *Server) getUserConversation(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	conv, err := s.app.UserConversation(r.Context(), c, pathID(r, "uid"))
	if err != nil {
		return err
	}
	return ok(w, conv)
}

func (s *Server) getGroupConversation(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	conv, err := s.app.GroupConversation(r.Context(), c, pathID(r, "guid"))
	if err != nil {
		return err
	}
	return ok(w, conv)
}

// markUser and markGroup build the four receipt handlers.
func (s *Server) markUser(receipt string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c app.Caller) error {
		var in app.MarkInput
		if err := decode(r, &in); err != nil {
			return err
		}
		if err := s.app.MarkUserConversation(r.Context(), c, pathID(r, "uid"), receipt, in); err != nil {
			return err
		}
		return success(w, "All the messages from the user are marked as "+receipt+" for the requesting user.")
	}
}

func (s *Server) markGroup(receipt string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, c app.Caller) error {
		var in app.MarkInput
		if err := decode(r, &in); err != nil {
			return err
		}
		if err := s.app.MarkGroupConversation(r.Context(), c, pathID(r, "guid"), receipt, in); err != nil {
			return err
		}
		return success(w, "All the messages in the group are marked as "+receipt+" for the requesting user.")
	}
}
