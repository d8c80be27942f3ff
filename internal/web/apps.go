package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

// AppsView lists the apps; Created is set right after a create (its keys
// are shown once).
type AppsView struct {
	Page
	Form    Form
	Created *app.NewApp
}

func (s *Server) appsPage(w http.ResponseWriter, r *http.Request, q *req) error {
	return s.eng.render(w, http.StatusOK, "apps", &AppsView{Page: s.base(r, q, "Apps", "apps"), Form: newForm()})
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request, q *req) error {
	f := formFrom(r, "name", "region")
	na, err := s.app.CreateApp(r.Context(), f.Values["name"], f.Values["region"])
	if err != nil {
		if !f.absorb(err) {
			return err
		}
		return s.eng.render(w, http.StatusUnprocessableEntity, "apps", &AppsView{Page: s.base(r, q, "Apps", "apps"), Form: f})
	}
	if q.apps, err = s.app.Apps(r.Context()); err != nil {
		return err
	}
	q.app = &na.App
	v := &AppsView{Page: s.base(r, q, "Apps", "apps"), Form: newForm(), Created: na}
	v.Flash = "The app " + na.App.Name + " is created. Copy its keys now: they are shown only once."
	return s.eng.render(w, http.StatusOK, "apps", v)
}

// KeysView lists an app's API keys; Created is a key just made (shown once).
type KeysView struct {
	Page
	Keys    []chat.APIKey
	Form    Form
	Created *chat.APIKey
}

func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, q *req) error {
	return s.renderKeys(w, r, q, http.StatusOK, newForm(), nil)
}

func (s *Server) renderKeys(w http.ResponseWriter, r *http.Request, q *req, status int, f Form, created *chat.APIKey) error {
	keys, _, err := s.app.ListAPIKeys(r.Context(), q.caller, store.APIKeyFilter{Page: store.Page{PerPage: 100, Number: 1}})
	if err != nil {
		return err
	}
	if f.Values["scope"] == "" {
		f.Values["scope"] = chat.ScopeAuthOnly
	}
	v := &KeysView{Page: s.base(r, q, "API keys", "keys"), Keys: keys, Form: f, Created: created}
	if created != nil {
		v.Flash = "The key is created. Copy it now: it is shown only once."
	}
	return s.eng.render(w, status, "keys", v)
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, q *req) error {
	f := formFrom(r, "name", "scope")
	k, err := s.app.CreateAPIKey(r.Context(), q.caller, app.APIKeyInput{Name: ptr(f.Values["name"]), Scope: ptr(f.Values["scope"])})
	if err != nil {
		if !f.absorb(err) {
			return err
		}
		return s.renderKeys(w, r, q, http.StatusUnprocessableEntity, f, nil)
	}
	return s.renderKeys(w, r, q, http.StatusOK, newForm(), k)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, q *req) error {
	if err := s.app.DeleteAPIKey(r.Context(), q.caller, r.PathValue("prefix")); err != nil {
		return err
	}
	return redirect(w, r, "/apps/"+url.PathEscape(q.app.ID)+"/keys", "revoked")
}

// indentJSON pretty-prints a JSON document for display; anything else is
// returned as is.
func indentJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
