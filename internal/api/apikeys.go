package api

import (
	"net/http"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.APIKeyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := s.app.CreateAPIKey(r.Context(), c, in)
	if err != nil {
		return err
	}
	return ok(w, k)
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	f := store.APIKeyFilter{Scope: q.str("scope"), SearchKey: q.str("searchKey"), Page: q.page()}
	if err := q.err(); err != nil {
		return err
	}
	keys, total, err := s.app.ListAPIKeys(r.Context(), c, f)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []chat.APIKey{}
	}
	return okMeta(w, keys, pageMeta(total, len(keys), f.Page.PerPage, f.Page.Number))
}

func (s *Server) getAPIKey(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	k, err := s.app.APIKey(r.Context(), c, r.PathValue("apiKey"))
	if err != nil {
		return err
	}
	return ok(w, k)
}

func (s *Server) updateAPIKey(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.APIKeyInput
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := s.app.UpdateAPIKey(r.Context(), c, r.PathValue("apiKey"), in)
	if err != nil {
		return err
	}
	return ok(w, k)
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	if err := s.app.DeleteAPIKey(r.Context(), c, r.PathValue("apiKey")); err != nil {
		return err
	}
	return success(w, "The API key has been deleted.")
}
