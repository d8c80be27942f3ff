package web

import (
	"net/http"
	"net/url"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

// GroupsView lists groups and holds the create form.
type GroupsView struct {
	Page
	Groups []chat.Group
	Form   Form
	Search string
}

func (s *Server) groupsPage(w http.ResponseWriter, r *http.Request, q *req) error {
	return s.renderGroups(w, r, q, http.StatusOK, newForm())
}

func (s *Server) renderGroups(w http.ResponseWriter, r *http.Request, q *req, status int, f Form) error {
	search := r.URL.Query().Get("q")
	gs, _, err := s.app.ListGroups(r.Context(), q.caller, app.GroupListInput{GroupFilter: store.GroupFilter{SearchKey: search,
		Page: store.Page{PerPage: 200, Number: 1}}})
	if err != nil {
		return err
	}
	if f.Values["type"] == "" {
		f.Values["type"] = chat.GroupPublic
	}
	return s.eng.render(w, status, "groups", &GroupsView{Page: s.base(r, q, "Groups", "groups"), Groups: gs, Form: f, Search: search})
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, q *req) error {
	f := formFrom(r, "guid", "name", "type", "password", "description")
	in := app.GroupInput{GUID: ptr(f.Values["guid"]), Name: ptr(f.Values["name"]), Type: ptr(f.Values["type"])}
	if f.Values["password"] != "" {
		in.Password = ptr(f.Values["password"])
	}
	if f.Values["description"] != "" {
		in.Description = ptr(f.Values["description"])
	}
	g, err := s.app.CreateGroup(r.Context(), q.caller, in)
	if err != nil {
		if !f.absorb(err) {
			return err
		}
		f.Values["password"] = ""
		return s.renderGroups(w, r, q, http.StatusUnprocessableEntity, f)
	}
	return redirect(w, r, groupPath(q, g.GUID), "saved")
}

func groupPath(q *req, guid string) string {
	return "/apps/" + url.PathEscape(q.app.ID) + "/groups/" + url.PathEscape(guid)
}

// GroupView is a group with its members and bans.
type GroupView struct {
	Page
	Group   *chat.Group
	Members []chat.Member
	Banned  []chat.BannedUser
	Bots    map[string]bool
	Form    Form
	Scopes  []string
}

func (s *Server) groupPage(w http.ResponseWriter, r *http.Request, q *req) error {
	return s.renderGroup(w, r, q, http.StatusOK, newForm())
}

func (s *Server) renderGroup(w http.ResponseWriter, r *http.Request, q *req, status int, f Form) error {
	guid := r.PathValue("guid")
	g, err := s.app.Group(r.Context(), q.caller, guid)
	if err != nil {
		return err
	}
	v := &GroupView{Page: s.base(r, q, g.Name, "groups"), Group: g, Form: f,
		Scopes: []string{chat.ScopeParticipant, chat.ScopeModerator, chat.ScopeAdmin}}
	if v.Members, _, err = s.app.ListMembers(r.Context(), q.caller, guid, store.MemberFilter{Page: store.Page{PerPage: 1000, Number: 1}}); err != nil {
		return err
	}
	if v.Banned, _, err = s.app.ListBannedUsers(r.Context(), q.caller, guid, store.Page{PerPage: 1000, Number: 1}); err != nil {
		return err
	}
	bots, _, err := s.app.ListBots(r.Context(), q.caller, store.BotFilter{Page: store.Page{PerPage: 1000, Number: 1}})
	if err != nil {
		return err
	}
	v.Bots = map[string]bool{}
	for _, b := range bots {
		v.Bots[b.UID] = true
	}
	if f.Values["scope"] == "" {
		f.Values["scope"] = chat.ScopeParticipant
	}
	return s.eng.render(w, status, "group", v)
}

// addMember adds one user with a scope. The per-uid result of the use case
// is shown next to the field when it failed.
func (s *Server) addMember(w http.ResponseWriter, r *http.Request, q *req) error {
	f := formFrom(r, "uid", "scope")
	uid := f.Values["uid"]
	var in app.MembersInput
	switch f.Values["scope"] {
	case chat.ScopeAdmin:
		in.Admins = []string{uid}
	case chat.ScopeModerator:
		in.Moderators = []string{uid}
	default:
		in.Participants = []string{uid}
	}
	res, err := s.app.AddMembers(r.Context(), q.caller, r.PathValue("guid"), in)
	if err != nil {
		if !f.absorb(err) {
			return err
		}
		return s.renderGroup(w, r, q, http.StatusUnprocessableEntity, f)
	}
	for _, m := range []map[string]app.MessageResult{res.Admins, res.Moderators, res.Participants} {
		for _, one := range m {
			if !one.Success && one.Error != nil {
				f.Errors["uid"] = append(f.Errors["uid"], one.Error.Message)
			}
		}
	}
	if len(f.Errors) > 0 {
		return s.renderGroup(w, r, q, http.StatusUnprocessableEntity, f)
	}
	return redirect(w, r, groupPath(q, r.PathValue("guid")), "member")
}

func (s *Server) changeScope(w http.ResponseWriter, r *http.Request, q *req) error {
	if _, err := s.app.ChangeScope(r.Context(), q.caller, r.PathValue("guid"), r.PathValue("uid"), r.PostFormValue("scope")); err != nil {
		return err
	}
	return redirect(w, r, groupPath(q, r.PathValue("guid")), "member")
}

func (s *Server) kickMember(w http.ResponseWriter, r *http.Request, q *req) error {
	if _, _, err := s.app.RemoveMember(r.Context(), q.caller, r.PathValue("guid"), r.PathValue("uid")); err != nil {
		return err
	}
	return redirect(w, r, groupPath(q, r.PathValue("guid")), "member")
}

func (s *Server) banMember(w http.ResponseWriter, r *http.Request, q *req) error {
	if _, err := s.app.BanMember(r.Context(), q.caller, r.PathValue("guid"), r.PathValue("uid")); err != nil {
		return err
	}
	return redirect(w, r, groupPath(q, r.PathValue("guid")), "member")
}
