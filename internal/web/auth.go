package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"parley/internal/app"
	"parley/internal/chat"
)

// sessionCookieAge is the session cookie's Max-Age: the longest a
// session may live (app.Admins ends it earlier when idle).
const sessionCookieAge = 7 * 24 * time.Hour

// LoginView is the login page.
type LoginView struct {
	Page
	Form      Form
	LoginCSRF string
	Next      string
}

// loginPage shows the form, with a fresh double-submit token in a cookie
// and a hidden field.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.admins.SessionOf(r.Context(), cookieValue(r, sessionCookie)); err == nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, newForm())
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, f Form) {
	tok := cookieValue(r, loginCookie)
	if len(tok) < 20 {
		tok = randomToken()
	}
	s.setCookie(w, r, loginCookie, tok, time.Hour)
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	v := &LoginView{Page: s.base(r, nil, "Log in", ""), Form: f, LoginCSRF: tok, Next: safeNext(next)}
	if err := s.eng.render(w, status, "login", v); err != nil {
		s.fail(w, r, nil, err)
	}
}

// login checks the form's token, the origin and the password. Failed
// logins are slowed by the throttle in app.Admins.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !s.sameOrigin(r) || !tokenEqual(r.PostFormValue(csrfField), cookieValue(r, loginCookie)) {
		s.forbidden(w, r, "The login form was refused: its security token is missing or out of date (CSRF protection). Reload the page and try again.")
		return
	}
	f := formFrom(r, "username")
	_, id, err := s.admins.Login(r.Context(), app.LoginInput{Username: f.Values["username"], Password: r.PostFormValue("password"),
		IP: s.clientIP(r), UserAgent: r.UserAgent()})
	if err != nil {
		ce := chat.AsError(err)
		if ce == nil || ce.Kind == chat.KindInternal {
			s.fail(w, r, nil, err)
			return
		}
		f.Message = ce.Message
		status := http.StatusUnauthorized
		if ce.Kind == chat.KindRateLimited {
			status = http.StatusTooManyRequests
		}
		s.renderLogin(w, r, status, f)
		return
	}
	s.setCookie(w, r, loginCookie, "", -1)
	// The cookie may outlive the session (whose idle expiry slides on the
	// server); the server decides when it ends.
	s.setCookie(w, r, sessionCookie, id, sessionCookieAge)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, q *req) error {
	if err := s.admins.Logout(r.Context(), cookieValue(r, sessionCookie)); err != nil {
		return err
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// safeNext keeps a post-login redirect on this site: a local absolute path
// only (not "//host" nor "/\host").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

// home opens the first app's bots.
func (s *Server) home(w http.ResponseWriter, r *http.Request, q *req) error {
	if len(q.apps) == 0 {
		return redirect(w, r, "/apps", "")
	}
	return redirect(w, r, "/apps/"+url.PathEscape(q.apps[0].ID)+"/bots", "")
}

func (s *Server) appHome(w http.ResponseWriter, r *http.Request, q *req) error {
	return redirect(w, r, "/apps/"+url.PathEscape(q.app.ID)+"/bots", "")
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, nil, chat.Errorf(chat.KindNotFound, "ERR_PAGE_NOT_FOUND", "There is no page at %s.", r.URL.Path))
}
