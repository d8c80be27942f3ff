package api

import (
	"net/http"

	"parley/internal/chat"
)

// envelope is CometChat's success body.
type envelope struct {
	Data any `json:"data"`
	Meta any `json:"meta,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := chat.Marshal(v)
	if err != nil {
		// Only a bug can get here (an unencodable value); keep the shape.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"ERR_MISSION_FAILED","message":"Something went wrong on the server."}}`)
	}
	writeBody(w, status, append(b, '\n'))
}

// writeBody answers with a JSON body.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client went away
}

// ok answers {"data": data}.
func ok(w http.ResponseWriter, data any) error {
	writeJSON(w, http.StatusOK, envelope{Data: data})
	return nil
}

// okEncoded answers {"data": m} with the message's JSON encoded once
// (chat.Message.Encode).
func okEncoded(w http.ResponseWriter, m *chat.Message) error {
	e, err := m.Encode()
	if err != nil {
		return err
	}
	b := make([]byte, 0, len(`{"data":}`)+len(e)+1)
	writeBody(w, http.StatusOK, append(append(append(b, `{"data":`...), e...), "}\n"...))
	return nil
}

// okMeta answers {"data": data, "meta": meta}.
func okMeta(w http.ResponseWriter, data any, meta any) error {
	writeJSON(w, http.StatusOK, envelope{Data: data, Meta: meta})
	return nil
}

// success is CometChat's answer to a delete or other action without a
// resource to return.
func success(w http.ResponseWriter, message string) error {
	return ok(w, map[string]any{"success": true, "message": message})
}

// pagination is the meta of page-based lists.
type pagination struct {
	Total       int `json:"total"`
	Count       int `json:"count"`
	PerPage     int `json:"per_page"`
	CurrentPage int `json:"current_page"`
	TotalPages  int `json:"total_pages"`
}

func pageMeta(total, count, perPage, page int) any {
	pages := 0
	if perPage > 0 {
		pages = (total + perPage - 1) / perPage
	}
	return map[string]any{"pagination": pagination{Total: total, Count: count, PerPage: perPage, CurrentPage: page, TotalPages: pages}}
}
