package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

// ConsoleView is the chat console: pick a user, talk to a bot (1:1) or a
// group, over the same WebSocket a client uses.
type ConsoleView struct {
	Page
	Users  []chat.User
	Bots   []chat.Bot
	Groups []chat.Group
	As     string // the user the console acts as
	With   string // "user:UID" or "group:GUID"
	// Set once both are chosen:
	Ready        bool
	Receiver     string
	ReceiverType string
	PeerName     string
	Token        string
	History      []ConsoleMessage
	Problem      string // why the conversation cannot open
}

// ConsoleMessage is a message of the history the page starts with.
type ConsoleMessage struct {
	ID     int64
	Sender string
	Text   string
	SentAt int64
	Mine   bool
}

const consoleHistory = 30

func (s *Server) consolePage(w http.ResponseWriter, r *http.Request, q *req) error {
	ctx := r.Context()
	qs := r.URL.Query()
	v := &ConsoleView{Page: s.base(r, q, "Chat console", "console"), As: chat.NormalizeID(qs.Get("as")), With: qs.Get("with")}
	var err error
	if v.Users, _, err = s.app.ListUsers(ctx, q.caller, app.UserListInput{UserFilter: store.UserFilter{Page: store.Page{PerPage: 500, Number: 1}}}); err != nil {
		return err
	}
	if v.Bots, _, err = s.app.ListBots(ctx, q.caller, store.BotFilter{Page: store.Page{PerPage: 1000, Number: 1}}); err != nil {
		return err
	}
	if v.Groups, _, err = s.app.ListGroups(ctx, q.caller, app.GroupListInput{GroupFilter: store.GroupFilter{Page: store.Page{PerPage: 500, Number: 1}}}); err != nil {
		return err
	}
	if v.As == "" {
		// Default to the first user that is not a bot.
		for _, u := range v.Users {
			if !slices.ContainsFunc(v.Bots, func(b chat.Bot) bool { return b.UID == u.UID }) {
				v.As = u.UID
				break
			}
		}
	}
	kind, id, ok := strings.Cut(v.With, ":")
	if v.As == "" || !ok || id == "" {
		return s.eng.render(w, http.StatusOK, "console", v)
	}
	v.Receiver = chat.NormalizeID(id)
	caller := q.caller
	caller.OnBehalfOf = v.As
	var msgs []*chat.Message
	in := app.MessageListInput{MessageFilter: store.MessageFilter{Limit: consoleHistory, HideReplies: true}}
	switch kind {
	case chat.ReceiverUser:
		v.ReceiverType = chat.ReceiverUser
		if u, err := s.app.User(ctx, q.caller, v.Receiver); err == nil {
			v.PeerName = u.Name
		}
		msgs, _, err = s.app.ListUserMessages(ctx, caller, v.Receiver, in)
	case chat.ReceiverGroup:
		v.ReceiverType = chat.ReceiverGroup
		if g, err := s.app.Group(ctx, q.caller, v.Receiver); err == nil {
			v.PeerName = g.Name
		}
		msgs, _, err = s.app.ListGroupMessages(ctx, caller, v.Receiver, in)
	default:
		return chat.Invalid("with", "Choose a bot or a group to talk to.")
	}
	if err != nil {
		ce := chat.AsError(err)
		if ce == nil || ce.Kind == chat.KindInternal {
			return err
		}
		v.Problem = ce.Message
		return s.eng.render(w, http.StatusOK, "console", v)
	}
	tok, err := s.app.ConsoleToken(ctx, q.caller, v.As)
	if err != nil {
		ce := chat.AsError(err)
		if ce == nil || ce.Kind == chat.KindInternal {
			return err
		}
		v.Problem = ce.Message
		return s.eng.render(w, http.StatusOK, "console", v)
	}
	v.Token, v.Ready = tok.Token, true
	slices.SortFunc(msgs, func(a, b *chat.Message) int { return int(a.ID - b.ID) })
	for _, m := range msgs {
		if m.Category == chat.CategoryAction || m.DeletedAt != 0 {
			continue
		}
		text := m.Data.Text
		if text == "" {
			text = "(" + m.Category + "/" + m.Type + ")"
		}
		v.History = append(v.History, ConsoleMessage{ID: m.ID, Sender: m.Sender, Text: text, SentAt: m.SentAt, Mine: m.Sender == v.As})
	}
	return s.eng.render(w, http.StatusOK, "console", v)
}

// consoleDelivery is one bot delivery of a message, as the console's
// script shows it.
type consoleDelivery struct {
	ID        int64  `json:"id"`
	Bot       string `json:"bot"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	Status    int    `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
	LatencyMs int64  `json:"latencyMs,omitempty"`
	URL       string `json:"url"`
}

// consoleDeliveries answers the bot deliveries of one message as JSON
// (the console polls it until each is succeeded or failed).
func (s *Server) consoleDeliveries(w http.ResponseWriter, r *http.Request, q *req) error {
	id, err := strconv.ParseInt(r.URL.Query().Get("message"), 10, 64)
	if err != nil || id <= 0 {
		return chat.Invalid("message", "The message parameter must be a message id.")
	}
	ds, err := s.app.MessageDeliveries(r.Context(), q.caller, id)
	if err != nil {
		return err
	}
	out := make([]consoleDelivery, 0, len(ds))
	for _, d := range ds {
		cd := consoleDelivery{ID: d.ID, Bot: d.Bot, State: d.State, Attempts: d.Attempts, Status: d.LastStatus,
			URL: botPath(q, d.Bot) + "/deliveries/" + strconv.FormatInt(d.ID, 10)}
		if d.LastErrorClass != "" {
			cd.Error = d.LastErrorClass
			if d.LastError != "" {
				cd.Error += ": " + d.LastError
			}
		}
		if n := len(d.AttemptLog); n > 0 {
			cd.LatencyMs = d.AttemptLog[n-1].LatencyMs
		}
		out = append(out, cd)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(map[string]any{"deliveries": out})
}
