package api

import (
	"net/http"
	"strconv"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

func (s *Server) createBot(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.BotInput
	if err := decode(r, &in); err != nil {
		return err
	}
	b, err := s.app.CreateBot(r.Context(), c, in)
	if err != nil {
		return err
	}
	return ok(w, b)
}

func (s *Server) listBots(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	f := store.BotFilter{SearchKey: q.str("searchKey"), Page: q.page()}
	if err := q.err(); err != nil {
		return err
	}
	bots, total, err := s.app.ListBots(r.Context(), c, f)
	if err != nil {
		return err
	}
	return okMeta(w, bots, pageMeta(total, len(bots), f.Page.PerPage, f.Page.Number))
}

func (s *Server) getBot(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	b, err := s.app.Bot(r.Context(), c, r.PathValue("uid"))
	if err != nil {
		return err
	}
	return ok(w, b)
}

func (s *Server) updateBot(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.BotInput
	if err := decode(r, &in); err != nil {
		return err
	}
	b, err := s.app.UpdateBot(r.Context(), c, r.PathValue("uid"), in)
	if err != nil {
		return err
	}
	return ok(w, b)
}

func (s *Server) deleteBot(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	if err := s.app.DeleteBot(r.Context(), c, r.PathValue("uid")); err != nil {
		return err
	}
	return success(w, "The bot "+pathID(r, "uid")+" has been deleted; its user is kept.")
}

func (s *Server) rotateBotSecret(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	b, err := s.app.RotateBotSecret(r.Context(), c, r.PathValue("uid"))
	if err != nil {
		return err
	}
	return ok(w, b)
}

func (s *Server) botSend(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.SendInput
	if err := decode(r, &in); err != nil {
		return err
	}
	c.Origin = app.OriginBot
	m, err := s.app.BotSend(r.Context(), c, r.PathValue("uid"), in)
	if err != nil {
		return err
	}
	return ok(w, m)
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	q := newQuery(r)
	f := store.DeliveryFilter{
		State:   q.enum("state", chat.ParseDeliveryState),
		SinceMs: q.integer("since", 0, 0, 1<<40) * 1000,
		UntilMs: q.integer("until", 0, 0, 1<<40) * 1000,
		Page:    q.page(),
	}
	if err := q.err(); err != nil {
		return err
	}
	ds, total, err := s.app.ListDeliveries(r.Context(), c, r.PathValue("uid"), f)
	if err != nil {
		return err
	}
	return okMeta(w, ds, pageMeta(total, len(ds), f.Page.PerPage, f.Page.Number))
}

func pathDeliveryID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, chat.Errorf(chat.KindNotFound, "ERR_DELIVERY_NOT_FOUND", "The delivery %q does not exist.", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	id, err := pathDeliveryID(r)
	if err != nil {
		return err
	}
	d, err := s.app.Delivery(r.Context(), c, r.PathValue("uid"), id)
	if err != nil {
		return err
	}
	return ok(w, d)
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	id, err := pathDeliveryID(r)
	if err != nil {
		return err
	}
	d, err := s.app.RetryDelivery(r.Context(), c, r.PathValue("uid"), id)
	if err != nil {
		return err
	}
	return ok(w, d)
}

func (s *Server) replayDeliveries(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	var in app.ReplayInput
	if err := decode(r, &in); err != nil {
		return err
	}
	n, err := s.app.ReplayDeliveries(r.Context(), c, r.PathValue("uid"), in)
	if err != nil {
		return err
	}
	return ok(w, map[string]any{"success": true, "requeued": n})
}

func (s *Server) testBot(w http.ResponseWriter, r *http.Request, c app.Caller) error {
	d, err := s.app.TestBot(r.Context(), c, r.PathValue("uid"))
	if err != nil {
		return err
	}
	return ok(w, d)
}
