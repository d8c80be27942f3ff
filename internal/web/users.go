package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

const usersPerPage = 25

// UsersView is the user list with search and paging.
type UsersView struct {
	Page
	Users    []chat.User
	Bots     map[string]bool
	Search   string
	Inactive bool // deactivated users are listed too
	PageNum  int
	Pages    int
	Total    int
}

// PageLink is the URL of another page of the list, keeping the filters.
func (v *UsersView) PageLink(n int) string {
	q := url.Values{}
	if v.Search != "" {
		q.Set("q", v.Search)
	}
	if v.Inactive {
		q.Set("inactive", "1")
	}
	q.Set("page", itoa(n))
	return v.AppPath("/users?" + q.Encode())
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, q *req) error {
	qs := r.URL.Query()
	v := &UsersView{Page: s.base(r, q, "Users", "users"), Search: strings.TrimSpace(qs.Get("q")), Inactive: qs.Get("inactive") == "1",
		PageNum: atoiDefault(qs.Get("page"), 1)}
	f := store.UserFilter{SearchKey: v.Search, Page: store.Page{PerPage: usersPerPage, Number: v.PageNum}}
	if v.Inactive {
		f.Deactivated = 1
	}
	var err error
	if v.Users, v.Total, err = s.app.ListUsers(r.Context(), q.caller, app.UserListInput{UserFilter: f}); err != nil {
		return err
	}
	v.Pages = max(1, (v.Total+usersPerPage-1)/usersPerPage)
	bots, _, err := s.app.ListBots(r.Context(), q.caller, store.BotFilter{Page: store.Page{PerPage: 1000, Number: 1}})
	if err != nil {
		return err
	}
	v.Bots = map[string]bool{}
	for _, b := range bots {
		v.Bots[b.UID] = true
	}
	return s.eng.render(w, http.StatusOK, "users", v)
}

// UserView is the create and edit form of a user, and its tokens.
type UserView struct {
	Page
	Form   Form
	User   *chat.User // nil when creating
	IsBot  bool
	Token  string // an auth token just issued (shown on this page only)
	Tokens int
}

var userFields = []string{"uid", "name", "avatar", "link", "role", "statusMessage", "tags"}

func (s *Server) newUserPage(w http.ResponseWriter, r *http.Request, q *req) error {
	return s.eng.render(w, http.StatusOK, "user", &UserView{Page: s.base(r, q, "New user", "users"), Form: newForm()})
}

func userInput(f Form) app.UserInput {
	in := app.UserInput{Name: ptr(f.Values["name"])}
	for name, dst := range map[string]**string{"avatar": &in.Avatar, "link": &in.Link, "statusMessage": &in.StatusMessage} {
		if v := f.Values[name]; v != "" {
			*dst = ptr(v)
		}
	}
	if role := f.Values["role"]; role != "" {
		in.Role = &role
	}
	tags := []string{}
	for _, t := range strings.Split(f.Values["tags"], ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	in.Tags = &tags
	return in
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, q *req) error {
	f := formFrom(r, userFields...)
	in := userInput(f)
	in.UID = ptr(f.Values["uid"])
	u, err := s.app.CreateUser(r.Context(), q.caller, in)
	if err != nil {
		if !f.absorb(err) {
			return err
		}
		return s.eng.render(w, http.StatusUnprocessableEntity, "user", &UserView{Page: s.base(r, q, "New user", "users"), Form: f})
	}
	return redirect(w, r, "/apps/"+url.PathEscape(q.app.ID)+"/users/"+url.PathEscape(u.UID), "saved")
}

func (s *Server) userPage(w http.ResponseWriter, r *http.Request, q *req) error {
	return s.renderUser(w, r, q, http.StatusOK, nil, "")
}

func (s *Server) renderUser(w http.ResponseWriter, r *http.Request, q *req, status int, f *Form, token string) error {
	u, err := s.app.User(r.Context(), q.caller, r.PathValue("uid"))
	if err != nil {
		return err
	}
	if f == nil {
		nf := newForm()
		nf.Values["uid"], nf.Values["name"], nf.Values["avatar"], nf.Values["link"] = u.UID, u.Name, u.Avatar, u.Link
		nf.Values["role"], nf.Values["statusMessage"], nf.Values["tags"] = u.Role, u.StatusMessage, strings.Join(u.Tags, ", ")
		f = &nf
	}
	v := &UserView{Page: s.base(r, q, u.Name, "users"), Form: *f, User: u, Token: token}
	if _, err := s.app.Bot(r.Context(), q.caller, u.UID); err == nil {
		v.IsBot = true
	}
	toks, err := s.app.AuthTokens(r.Context(), q.caller, u.UID)
	if err != nil {
		return err
	}
	v.Tokens = len(toks)
	return s.eng.render(w, status, "user", v)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, q *req) error {
	f := formFrom(r, userFields...)
	in := userInput(f)
	for name, dst := range map[string]**string{"avatar": &in.Avatar, "link": &in.Link, "statusMessage": &in.StatusMessage} {
		if *dst == nil {
			in.Unset = append(in.Unset, name)
		}
	}
	if _, err := s.app.UpdateUser(r.Context(), q.caller, r.PathValue("uid"), in); err != nil {
		if !f.absorb(err) {
			return err
		}
		return s.renderUser(w, r, q, http.StatusUnprocessableEntity, &f, "")
	}
	return redirect(w, r, "/apps/"+url.PathEscape(q.app.ID)+"/users/"+url.PathEscape(r.PathValue("uid")), "saved")
}

func (s *Server) setUserActive(active bool) handler {
	return func(w http.ResponseWriter, r *http.Request, q *req) error {
		uid := r.PathValue("uid")
		if _, err := s.app.SetUsersActive(r.Context(), q.caller, []string{uid}, active); err != nil {
			return err
		}
		ok := "deactivated"
		if active {
			ok = "reactivated"
		}
		return redirect(w, r, "/apps/"+url.PathEscape(q.app.ID)+"/users/"+url.PathEscape(uid), ok)
	}
}

// issueToken creates a new auth token for the user and shows it on the
// answer page (it is not shown again there).
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, q *req) error {
	t, err := s.app.CreateAuthToken(r.Context(), q.caller, r.PathValue("uid"), true)
	if err != nil {
		return err
	}
	return s.renderUser(w, r, q, http.StatusOK, nil, t.Token)
}

func itoa(n int) string { return strconv.Itoa(n) }
