// Package web is parley's dashboard: server-rendered pages (html/template,
// embedded and parsed at start) over the same app use cases as the REST
// API, with session cookies, CSRF protection on every form, and a small
// amount of vanilla JavaScript (the chat console). Handlers decode a form,
// call one use case and render a typed view; no business rule lives here.
package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	"parley/internal/app"
	"parley/internal/chat"
)

// Config tunes the dashboard.
type Config struct {
	// TrustedProxies may set X-Forwarded-Proto, -For and -Host (a
	// TLS-terminating proxy). Default: loopback only.
	TrustedProxies []netip.Prefix
}

// Server is the dashboard handler.
type Server struct {
	app    *app.App
	admins *app.Admins
	log    *slog.Logger
	cfg    Config
	eng    *engine
	mux    *http.ServeMux
}

// New builds the dashboard. It fails when a template does not parse.
func New(a *app.App, admins *app.Admins, cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.TrustedProxies == nil {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	eng, err := newEngine()
	if err != nil {
		return nil, err
	}
	s := &Server{app: a, admins: admins, log: log, cfg: cfg, eng: eng, mux: http.NewServeMux()}
	s.routes()
	return s, nil
}

// ServeHTTP serves the dashboard with its security headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	// The console's WebSocket goes to this same host.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"connect-src 'self' ws://"+r.Host+" wss://"+r.Host+"; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	s.mux.ServeHTTP(w, r)
}

// req is what an authenticated handler gets: the session and, under
// /apps/{appId}/, the app and the caller to act as.
type req struct {
	sess   *app.Session
	caller app.Caller
	app    *chat.App
	apps   []chat.App
}

type handler func(w http.ResponseWriter, r *http.Request, q *req) error

// page wraps a handler that needs a login (and, when the pattern has
// {appId}, an existing app). A POST must carry the session's CSRF token
// and come from this origin.
func (s *Server) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.admins.SessionOf(r.Context(), cookieValue(r, sessionCookie))
		if err != nil {
			if chat.KindOf(err) != chat.KindUnauthenticated {
				s.fail(w, r, nil, err)
				return
			}
			if r.Method != http.MethodGet {
				s.forbidden(w, r, "Your session has ended. Log in again, then repeat the action.")
				return
			}
			s.setCookie(w, r, sessionCookie, "", -1)
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		q := &req{sess: sess}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if !s.sameOrigin(r) || !tokenEqual(r.PostFormValue(csrfField), sess.CSRF) {
				s.forbidden(w, r, "The form was refused: its security token is missing or out of date (CSRF protection). Reload the page and try again.")
				return
			}
		}
		if q.apps, err = s.app.Apps(r.Context()); err != nil {
			s.fail(w, r, q, err)
			return
		}
		if id := r.PathValue("appId"); id != "" {
			c, ap, err := s.app.DashboardCaller(r.Context(), id)
			if err != nil {
				s.fail(w, r, q, err)
				return
			}
			q.caller, q.app = c, ap
		}
		if err := h(w, r, q); err != nil {
			s.fail(w, r, q, err)
		}
	}
}

// maxFormBytes bounds a form body.
const maxFormBytes = 1 << 20

// ErrorView is the error page.
type ErrorView struct {
	Page
	Status  int
	Heading string
	Message string
}

// fail renders err: a domain error by its safe message, anything else as
// a generic 500 (the details go to the log only).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, q *req, err error) {
	status, heading, msg := http.StatusInternalServerError, "Something went wrong", "The error was logged. Try again in a moment."
	if ce := chat.AsError(err); ce != nil && ce.Kind != chat.KindInternal {
		msg = ce.Message
		if len(ce.Details) > 0 {
			// A validation error outside a form: its details say what to fix.
			var parts []string
			for _, d := range ce.Details {
				parts = append(parts, d...)
			}
			sort.Strings(parts)
			msg = strings.Join(parts, " ")
		}
		switch ce.Kind {
		case chat.KindNotFound:
			status, heading = http.StatusNotFound, "Not found"
		case chat.KindInvalid:
			status, heading = http.StatusBadRequest, "That did not work"
		case chat.KindConflict:
			status, heading = http.StatusConflict, "That did not work"
		case chat.KindForbidden:
			status, heading = http.StatusForbidden, "Not allowed"
		case chat.KindRateLimited:
			status, heading = http.StatusTooManyRequests, "Slow down"
		case chat.KindUnavailable:
			status, heading = http.StatusServiceUnavailable, "Busy"
		default:
			status, heading = http.StatusBadRequest, "That did not work"
		}
	} else {
		s.log.Error("web: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	v := &ErrorView{Status: status, Heading: heading, Message: msg}
	v.Page = s.base(r, q, heading, "")
	if rerr := s.eng.render(w, status, "error", v); rerr != nil {
		s.log.Error("web: render error page", "err", rerr)
		http.Error(w, msg, status)
	}
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	v := &ErrorView{Status: http.StatusForbidden, Heading: "Request refused", Message: msg}
	v.Page = s.base(r, nil, "Request refused", "")
	if err := s.eng.render(w, http.StatusForbidden, "error", v); err != nil {
		http.Error(w, msg, http.StatusForbidden)
	}
}

// Page is the part of every view the layout uses.
type Page struct {
	Title    string
	Nav      string // the active navigation entry
	User     string // the logged-in admin, "" on the login page
	CSRF     string
	App      *chat.App
	Apps     []chat.App
	Flash    string
	FlashBad bool
	Path     string
}

// AppPath is the URL of a page of the current app.
func (p Page) AppPath(rest string) string {
	if p.App == nil {
		return "/apps"
	}
	return "/apps/" + url.PathEscape(p.App.ID) + rest
}

func (s *Server) base(r *http.Request, q *req, title, nav string) Page {
	p := Page{Title: title, Nav: nav, Path: r.URL.Path}
	if q != nil {
		if q.sess != nil {
			p.User, p.CSRF = q.sess.Username, q.sess.CSRF
		}
		p.App, p.Apps = q.app, q.apps
	}
	if f, ok := flashes[r.URL.Query().Get("ok")]; ok {
		p.Flash = f
	}
	return p
}

// flashes are the confirmations a redirect after a POST shows (?ok=...).
var flashes = map[string]string{
	"saved":       "Saved.",
	"deleted":     "Deleted.",
	"enabled":     "The bot is enabled: it receives messages now.",
	"disabled":    "The bot is disabled: it receives nothing until enabled again.",
	"retried":     "The delivery is queued again and goes out now.",
	"tested":      "A signed test event is queued; it appears in the log below in a moment.",
	"revoked":     "The key is revoked. Requests with it now fail.",
	"deactivated": "The user is deactivated: it can no longer log in or send.",
	"reactivated": "The user is active again.",
	"member":      "The member list is updated.",
}

// redirect answers a POST with 303 to path, with a confirmation.
func redirect(w http.ResponseWriter, r *http.Request, path, ok string) error {
	if ok != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "ok=" + ok
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}

// Form is a submitted form and its per-field errors, for re-rendering.
type Form struct {
	Values map[string]string
	Errors map[string][]string
	// Message is an error about the form as a whole.
	Message string
}

func newForm() Form { return Form{Values: map[string]string{}, Errors: map[string][]string{}} }

// formFrom reads the named fields of a posted form.
func formFrom(r *http.Request, names ...string) Form {
	f := newForm()
	for _, n := range names {
		f.Values[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	return f
}

// fieldOf maps error codes that name one field without details to it.
var fieldOf = map[string]string{
	"ERR_UID_NOT_FOUND":       "uid",
	"ERR_UID_ALREADY_EXISTS":  "uid",
	"ERR_BOT_ALREADY_EXISTS":  "uid",
	"ERR_GUID_ALREADY_EXISTS": "guid",
	"ERR_GUID_NOT_FOUND":      "guid",
}

// absorb puts a validation error into the form and reports whether it did;
// other errors are left to the caller.
func (f *Form) absorb(err error) bool {
	ce := chat.AsError(err)
	if ce == nil || ce.Kind == chat.KindInternal {
		return false
	}
	if len(ce.Details) > 0 {
		for k, v := range ce.Details {
			f.Errors[k] = append(f.Errors[k], v...)
		}
		return true
	}
	if field, ok := fieldOf[ce.Code]; ok {
		f.Errors[field] = append(f.Errors[field], ce.Message)
		return true
	}
	if ce.Kind == chat.KindInvalid || ce.Kind == chat.KindConflict || ce.Kind == chat.KindNotFound || ce.Kind == chat.KindForbidden {
		f.Message = ce.Message
		return true
	}
	return false
}

// HasErrors reports whether the form has anything to show.
func (f Form) HasErrors() bool { return len(f.Errors) > 0 || f.Message != "" }

func atoiDefault(s string, def int) int {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 1 {
		return def
	}
	return n
}
