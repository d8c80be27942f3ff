package api

import (
	"net/http"

	"parley/internal/app"
)

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.SendInput
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.MultipleReceivers != nil {
		res, err := s.app.SendMulti(r.Context(), c, in)
		if err != nil {
			return err
		}
		return ok(w, res)
	}
	m, err := s.app.SendMessage(r.Context(), c, in)
	if err != nil {
		return err
	}
	return ok(w, m)
}
