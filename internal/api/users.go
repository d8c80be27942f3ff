package api

import (
	"net/http"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.UserInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := s.app.CreateUser(r.Context(), c, in)
	if err != nil {
		return err
	}
	return ok(w, u)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	in := app.UserListInput{UserFilter: store.UserFilter{
		SearchKey: q.str("searchKey"),
		SearchIn:  q.list("searchIn"),
		Role:      append(q.list("role"), q.list("roles")...),
		Page:      q.page(),
	}}
	if q.boolean("withTags") || q.has("tags") {
		in.Tags = q.list("tags")
	}
	switch {
	case q.boolean("onlyDeactivated"):
		in.Deactivated = 2
	case q.boolean("withDeactivated"):
		in.Deactivated = 1
	}
	in.Status = q.enum("status", func(s string) (string, bool) {
		switch s {
		case chat.StatusAvailable, chat.StatusOffline:
			return s, true
		}
		return "", false
	})
	if err := q.err(); err != nil {
		return err
	}
	users, total, err := s.app.ListUsers(r.Context(), c, in)
	if err != nil {
		return err
	}
	if users == nil {
		users = []chat.User{}
	}
	return okMeta(w, users, pageMeta(total, len(users), in.Page.PerPage, in.Page.Number))
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	u, err := s.app.User(r.Context(), c, pathID(r, "uid"))
	if err != nil {
		return err
	}
	return ok(w, u)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.UserInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := s.app.UpdateUser(r.Context(), c, pathID(r, "uid"), in)
	if err != nil {
		return err
	}
	return ok(w, u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in struct {
		Permanent bool `json:"permanent"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if newQuery(r).boolean("permanent") {
		in.Permanent = true
	}
	if err := s.app.DeleteUser(r.Context(), c, pathID(r, "uid"), in.Permanent); err != nil {
		return err
	}
	msg := "The user " + pathID(r, "uid") + " has been deactivated."
	if in.Permanent {
		msg = "The user " + pathID(r, "uid") + " has been deleted permanently."
	}
	return success(w, msg)
}

func (s *Server) deactivateUsers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in struct {
		UIDs []string `json:"uidsToDeactivate"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	changed, err := s.app.SetUsersActive(r.Context(), c, in.UIDs, false)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"success": true, "deactivatedUids": changed})
}

func (s *Server) reactivateUsers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in struct {
		UIDs []string `json:"uidsToActivate"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	changed, err := s.app.SetUsersActive(r.Context(), c, in.UIDs, true)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"success": true, "activatedUids": changed})
}

func (s *Server) blockUsers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	return s.setBlocked(w, r, c, true)
}

func (s *Server) unblockUsers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	return s.setBlocked(w, r, c, false)
}

func (s *Server) setBlocked(w http.ResponseWriter, r *http.Request, c app.Caller, block bool) error {
	var in struct {
		UIDs []string `json:"blockedUids"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	res, err := s.app.BlockUsers(r.Context(), c, pathID(r, "uid"), in.UIDs, block)
	if err != nil {
		return err
	}
	return ok(w, res)
}

func (s *Server) listBlockedUsers(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	users, err := s.app.BlockedUsers(r.Context(), c, pathID(r, "uid"))
	if err != nil {
		return err
	}
	if users == nil {
		users = []chat.User{}
	}
	return okMeta(w, users, pageMeta(len(users), len(users), len(users), 1))
}

func (s *Server) createAuthToken(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.TokenInput
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.app.CreateAuthToken(r.Context(), c, pathID(r, "uid"), in.Force)
	if err != nil {
		return err
	}
	return ok(w, t)
}

func (s *Server) listAuthTokens(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	ts, err := s.app.AuthTokens(r.Context(), c, pathID(r, "uid"))
	if err != nil {
		return err
	}
	return ok(w, ts)
}

func (s *Server) getAuthToken(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	t, err := s.app.AuthToken(r.Context(), c, pathID(r, "uid"), r.PathValue("authToken"))
	if err != nil {
		return err
	}
	return ok(w, t)
}

func (s *Server) updateAuthToken(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.TokenInput
	if err := decode(r, &in); err != nil {
		return err
	}
	t, err := s.app.UpdateAuthToken(r.Context(), c, pathID(r, "uid"), r.PathValue("authToken"), in)
	if err != nil {
		return err
	}
	return ok(w, t)
}

func (s *Server) deleteAuthToken(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	if err := s.app.DeleteAuthToken(r.Context(), c, pathID(r, "uid"), r.PathValue("authToken")); err != nil {
		return err
	}
	return success(w, "The auth token has been deleted.")
}

func (s *Server) deleteAuthTokens(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	if err := s.app.DeleteAuthTokens(r.Context(), c, pathID(r, "uid")); err != nil {
		return err
	}
	return success(w, "Every auth token of the user has been deleted.")
}
