package api

import (
	"log/slog"
	"net/http"

	"parley/internal/chat"
)

// statusOf is the one table that maps error kinds to HTTP statuses
// (docs/errors.md lists it with the codes).
var statusOf = map[chat.Kind]int{
	chat.KindInvalid:         http.StatusBadRequest,
	chat.KindUnauthenticated: http.StatusUnauthorized,
	chat.KindForbidden:       http.StatusForbidden,
	chat.KindNotFound:        http.StatusNotFound,
	chat.KindConflict:        http.StatusConflict,
	chat.KindTooLarge:        http.StatusRequestEntityTooLarge,
	chat.KindRateLimited:     http.StatusTooManyRequests,
	chat.KindUnavailable:     http.StatusServiceUnavailable,
	chat.KindInternal:        http.StatusInternalServerError,
}

// errInternal is what clients see of an internal error: never its text.
var errInternal = &chat.Error{Kind: chat.KindInternal, Code: "ERR_MISSION_FAILED", Message: "Something went wrong on the server. The error was logged; try again later."}

// writeError answers err in CometChat's error envelope.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ce := chat.AsError(err)
	if ce == nil || ce.Kind == chat.KindInternal {
		log.Error("api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		ce = errInternal
	}
	status, ok := statusOf[ce.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	if ce.Kind == chat.KindUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, struct {
		Error *chat.Error `json:"error"`
	}{ce})
}

var errNotFound = chat.Errorf(chat.KindNotFound, "ERR_API_NOT_FOUND", "The requested API does not exist. Check the method and the path.")
