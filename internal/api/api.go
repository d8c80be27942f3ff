// Package api serves parley's REST API v3, compatible with CometChat's: one
// route table (routes.go), the error mapping in one place (errors.go), and
// handlers that decode, call one app use case and encode. No business rule
// lives here.
package api

import (
	"log/slog"
	"net/http"
	"strings"

	"parley/internal/app"
	"parley/internal/chat"
)

// Hub is the WebSocket side the API hands authenticated upgrades to;
// presence: the client asked for the presence frames of the app's users.
type Hub interface {
	AcceptWith(w http.ResponseWriter, r *http.Request, appID, uid string, presence bool)
}

// Server is the REST API.
type Server struct {
	app *app.App
	hub Hub
	log *slog.Logger
	mux *http.ServeMux
}

// New builds the API handler.
func New(a *app.App, hub Hub, log *slog.Logger) *Server {
	s := &Server{app: a, hub: hub, log: log, mux: http.NewServeMux()}
	s.routes()
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// access says which credentials a route accepts.
type access int

const (
	fullAccess access = iota // an API key with scope fullAccess
	authOnly                 // any API key (authOnly or fullAccess)
)

// handlerFunc is the shape of every API handler.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c app.Caller) error

// handle registers an authenticated route.
func (s *Server) handle(pattern string, acc access, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		c, err := s.app.Authenticate(r.Context(), appIDOf(r), apiKeyOf(r), r.Header.Get("onBehalfOf"))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if acc == fullAccess && c.Scope != chat.ScopeFullAccess {
			writeError(w, r, s.log, chat.Errorf(chat.KindForbidden, "AUTH_ERR_NO_ACCESS", "This API key (scope %s) cannot call %s %s; use a fullAccess key.", c.Scope, r.Method, r.URL.Path))
			return
		}
		if err := h(w, r, c); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// appIDOf finds the app: the appId header, else the appId query parameter
// (browsers' WebSockets cannot set headers), else the first label of a
// host of the form {appId}.api-{region}.<domain>.
func appIDOf(r *http.Request) string {
	if id := r.Header.Get("appId"); id != "" {
		return strings.TrimSpace(id)
	}
	if id := r.URL.Query().Get("appId"); id != "" {
		return id
	}
	host := r.Host
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	labels := strings.Split(host, ".")
	if len(labels) >= 3 && strings.HasPrefix(strings.ToLower(labels[1]), "api-") {
		return labels[0]
	}
	return ""
}

// apiKeyOf reads the key from apiKey (any capitalisation: HTTP headers are
// case-insensitive).
func apiKeyOf(r *http.Request) string { return strings.TrimSpace(r.Header.Get("apiKey")) }

// notFound answers every path and method without a route.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, s.log, errNotFound)
}

// websocket authenticates a user's token, then hands the connection to
// the hub.
func (s *Server) websocket(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("authToken")
	if token == "" {
		token = r.URL.Query().Get("authToken")
	}
	presence := false
	switch r.URL.Query().Get("presence") {
	case "":
	case "all":
		presence = true
	default:
		writeError(w, r, s.log, chat.Invalid("presence", "The presence parameter may only be \"all\" (the presence of every user of the app)."))
		return
	}
	uid, err := s.app.AuthenticateToken(r.Context(), appIDOf(r), token)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	s.hub.AcceptWith(w, r, appIDOf(r), uid, presence)
}
