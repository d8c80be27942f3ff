package api

import (
	"net/http"
	"strings"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.GroupInput
	if err := decode(r, &in); err != nil {
		return err
	}
	g, err := s.app.CreateGroup(r.Context(), c, in)
	if err != nil {
		return err
	}
	return ok(w, g)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	in := app.GroupListInput{GroupFilter: store.GroupFilter{
		SearchKey: q.str("searchKey"),
		SearchIn:  q.list("searchIn"),
		Page:      q.page(),
	}}
	for _, t := range append(q.list("type"), q.list("types")...) {
		typ, ok := chat.ParseGroupType(t)
		if !ok {
			q.v.Add("types", "The group type %q is not one of public, password, private.", t)
			continue
		}
		in.Types = append(in.Types, typ)
	}
	if q.boolean("withTags") || q.has("tags") {
		in.Tags = q.list("tags")
	}
	in.SortBy = q.enum("sortBy", func(s string) (string, bool) {
		for _, k := range []string{store.GroupSortName, store.GroupSortGUID, store.GroupSortCreatedAt} {
			if strings.EqualFold(s, k) {
				return k, true
			}
		}
		return "", false
	})
	in.Desc = q.enum("sortOrder", func(s string) (string, bool) {
		for _, k := range []string{"asc", "desc"} {
			if strings.EqualFold(s, k) {
				return k, true
			}
		}
		return "", false
	}) == "desc"
	in.HasJoined = q.boolean("hasJoined")
	if err := q.err(); err != nil {
		return err
	}
	groups, total, err := s.app.ListGroups(r.Context(), c, in)
	if err != nil {
		return err
	}
	if groups == nil {
		groups = []chat.Group{}
	}
	return okMeta(w, groups, pageMeta(total, len(groups), in.Page.PerPage, in.Page.Number))
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	g, err := s.app.Group(r.Context(), c, pathID(r, "guid"))
	if err != nil {
		return err
	}
	return ok(w, g)
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.GroupInput
	if err := decode(r, &in); err != nil {
		return err
	}
	g, err := s.app.UpdateGroup(r.Context(), c, pathID(r, "guid"), in)
	if err != nil {
		return err
	}
	return ok(w, g)
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	guid := pathID(r, "guid")
	if err := s.app.DeleteGroup(r.Context(), c, guid); err != nil {
		return err
	}
	return success(w, "Group with guid "+guid+" has been deleted successfully.")
}

func (s *Server) addMembers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.MembersInput
	if err := decode(r, &in); err != nil {
		return err
	}
	res, err := s.app.AddMembers(r.Context(), c, pathID(r, "guid"), in)
	if err != nil {
		return err
	}
	return ok(w, res)
}

func (s *Server) listMembers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	f := store.MemberFilter{SearchKey: q.str("searchKey"), Page: q.page()}
	for _, sc := range q.list("scopes") {
		scope, ok := chat.ParseScope(sc)
		if !ok {
			q.v.Add("scopes", "The scope %q is not one of admin, moderator, participant.", sc)
			continue
		}
		f.Scopes = append(f.Scopes, scope)
	}
	if err := q.err(); err != nil {
		return err
	}
	members, total, err := s.app.ListMembers(r.Context(), c, pathID(r, "guid"), f)
	if err != nil {
		return err
	}
	if members == nil {
		members = []chat.Member{}
	}
	return okMeta(w, members, pageMeta(total, len(members), f.Page.PerPage, f.Page.Number))
}

func (s *Server) changeMemberScope(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in struct {
		Scope string `json:"scope"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	res, err := s.app.ChangeScope(r.Context(), c, pathID(r, "guid"), pathID(r, "uid"), in.Scope)
	if err != nil {
		return err
	}
	return ok(w, res)
}

// memberActionResult is CometChat's {success, message} answer to a kick,
// leave, ban or unban, plus the action message the change recorded.
type memberActionResult struct {
	Success       bool          `json:"success"`
	Message       string        `json:"message"`
	ActionMessage *chat.Message `json:"actionMessage"`
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	guid, uid := pathID(r, "guid"), pathID(r, "uid")
	m, left, err := s.app.RemoveMember(r.Context(), c, guid, uid)
	if err != nil {
		return err
	}
	msg := "The member with uid " + uid + " has been kicked from the group with guid " + guid + "."
	if left {
		msg = "The member with uid " + uid + " has left the group with guid " + guid + "."
	}
	return ok(w, memberActionResult{Success: true, Message: msg, ActionMessage: m})
}

func (s *Server) banMember(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	guid, uid := pathID(r, "guid"), pathID(r, "uid")
	m, err := s.app.BanMember(r.Context(), c, guid, uid)
	if err != nil {
		return err
	}
	return ok(w, memberActionResult{Success: true, Message: "The user with uid " + uid + " has been banned from the group with guid " + guid + ".", ActionMessage: m})
}

func (s *Server) unbanMember(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	guid, uid := pathID(r, "guid"), pathID(r, "uid")
	m, err := s.app.UnbanMember(r.Context(), c, guid, uid)
	if err != nil {
		return err
	}
	return ok(w, memberActionResult{Success: true, Message: "The user with uid " + uid + " has been unbanned from the group with guid " + guid + ".", ActionMessage: m})
}

func (s *Server) listBannedUsers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	p := q.page()
	if err := q.err(); err != nil {
		return err
	}
	users, total, err := s.app.ListBannedUsers(r.Context(), c, pathID(r, "guid"), p)
	if err != nil {
		return err
	}
	if users == nil {
		users = []chat.BannedUser{}
	}
	return okMeta(w, users, pageMeta(total, len(users), p.PerPage, p.Number))
}
