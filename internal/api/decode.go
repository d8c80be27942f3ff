package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"parley/internal/chat"
	"parley/internal/store"
)

// MaxBodyBytes bounds a request body. CometChat's largest body, a message,
// is at most 65,536 characters of JSON; twice that leaves room for
// multi-byte text. Larger bodies answer 413.
const MaxBodyBytes = 128 << 10

// decode reads a JSON object body into v. An empty body decodes as {}.
// Unknown fields are ignored (CometChat compatibility).
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return chat.Errorf(chat.KindTooLarge, "ERR_PAYLOAD_TOO_LARGE", "The request body may not be greater than %d bytes.", mbe.Limit)
		}
		return chat.Errorf(chat.KindInvalid, "ERR_BAD_REQUEST", "The request body could not be read.")
	}
	return decodeBytes(body, v)
}

// decodeBytes is decode's pure part (fuzzed).
func decodeBytes(body []byte, v any) error {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return nil
	}
	if trimmed[0] != '{' {
		return chat.Errorf(chat.KindInvalid, "ERR_BAD_REQUEST", "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return chat.Errorf(chat.KindInvalid, "ERR_BAD_REQUEST", "The request body has data after the JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return chat.Errorf(chat.KindInvalid, "ERR_BAD_REQUEST", "The request body has data after the JSON object.")
	}
	return nil
}

func decodeError(err error) error {
	if ce := chat.AsError(err); ce != nil {
		return ce
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "body"
		}
		return chat.Invalid(field, "The %s field must be %s, not %s.", field, jsonTypeName(te.Type.Kind().String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return chat.Errorf(chat.KindInvalid, "ERR_BAD_REQUEST", "The request body is not valid JSON (at byte %d).", se.Offset)
	}
	return chat.Errorf(chat.KindInvalid, "ERR_BAD_REQUEST", "The request body is not valid JSON.")
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "a list"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return "of another type"
}

// query reads typed query parameters and collects their errors.
type query struct {
	r *http.Request
	v chat.Validation
}

func newQuery(r *http.Request) *query { return &query{r: r} }

func (q *query) str(name string) string { return strings.TrimSpace(q.r.URL.Query().Get(name)) }

func (q *query) has(name string) bool { return q.r.URL.Query().Has(name) }

// list reads a comma-separated list, or the parameter repeated (name or
// name[]).
func (q *query) list(name string) []string {
	var out []string
	vals := q.r.URL.Query()
	for _, raw := range append(vals[name], vals[name+"[]"]...) {
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (q *query) boolean(name string) bool {
	s := q.str(name)
	switch strings.ToLower(s) {
	case "", "0", "false", "no":
		return false
	case "1", "true", "yes":
		return true
	}
	q.v.Add(name, "The %s parameter must be true or false.", name)
	return false
}

func (q *query) integer(name string, def, lo, hi int64) int64 {
	s := q.str(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		q.v.Add(name, "The %s parameter must be an integer from %d to %d.", name, lo, hi)
		return def
	}
	return n
}

// enum reads a parameter that must be one of values (case-insensitive).
func (q *query) enum(name string, parse func(string) (string, bool)) string {
	s := q.str(name)
	if s == "" {
		return ""
	}
	v, ok := parse(s)
	if !ok {
		q.v.Add(name, "The %s parameter %q is not one of the allowed values.", name, s)
	}
	return v
}

// page reads perPage (1..1000, default 100) and page (default 1).
func (q *query) page() store.Page {
	return store.Page{PerPage: int(q.integer("perPage", 100, 1, 1000)), Number: int(q.integer("page", 1, 1, 1<<31))}
}

func (q *query) err() error { return q.v.Err() }

// pathID reads a {uid}/{guid} path value, normalized.
func pathID(r *http.Request, name string) string { return chat.NormalizeID(r.PathValue(name)) }

// pathMessageID reads a numeric {id} path value.
func pathMessageID(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		return 0, chat.Errorf(chat.KindNotFound, "ERR_MESSAGE_ID_NOT_FOUND", "The message id %q does not exist.", r.PathValue("id"))
	}
	return n, nil
}
