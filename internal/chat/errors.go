package chat

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it. The API maps
// kinds to HTTP statuses in one table (internal/api/errors.go).
type Kind int

const (
	KindInternal        Kind = iota // a bug or an unexpected failure; never shown to clients in detail
	KindInvalid                     // the request is malformed or breaks a rule
	KindNotFound                    // the named thing does not exist (for this app)
	KindConflict                    // the thing exists already, or the state forbids the change
	KindUnauthenticated             // no or unknown credentials
	KindForbidden                   // known credentials without the right to do this
	KindTooLarge                    // the request body is over the limit
	KindRateLimited                 // too many requests
	KindUnavailable                 // shutting down or overloaded; retry later
)

// Error is a domain error with a CometChat-style code and a message that is
// safe to show to clients. Details carries per-field messages for
// validation errors ({"uid": ["..."]}).
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details map[string][]string
	Err     error // the cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid is a validation error on one field, with code ERR_BAD_REQUEST
// unless another code is given with WithCode.
func Invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: KindInvalid, Code: "ERR_BAD_REQUEST", Message: "Failed to validate the data sent with the request.",
		Details: map[string][]string{field: {msg}}}
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf returns the kind of err; errors that are not *Error are internal.
func KindOf(err error) Kind {
	if e := AsError(err); e != nil {
		return e.Kind
	}
	return KindInternal
}

// Validation accumulates per-field messages and turns into one
// ERR_BAD_REQUEST error.
type Validation struct {
	details map[string][]string
}

// Add records a message for field.
func (v *Validation) Add(field, format string, args ...any) {
	if v.details == nil {
		v.details = map[string][]string{}
	}
	v.details[field] = append(v.details[field], fmt.Sprintf(format, args...))
}

// Err returns nil when nothing was added, else an ERR_BAD_REQUEST *Error.
func (v *Validation) Err() error {
	if len(v.details) == 0 {
		return nil
	}
	return &Error{Kind: KindInvalid, Code: "ERR_BAD_REQUEST", Message: "Failed to validate the data sent with the request.", Details: v.details}
}

// MarshalJSON renders the client-visible part of the error: code, message
// and details. The kind and the cause stay private.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Details map[string][]string `json:"details,omitempty"`
	}{e.Code, e.Message, e.Details})
}
