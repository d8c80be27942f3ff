package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/store"
)

// GroupSettings are the four group chat settings, each explained in one
// line, in the order the form shows them.
var GroupSettings = []struct{ Value, Label, Help string }{
	{chat.GroupChatNone, "None", "The bot receives no group messages, only 1:1 messages sent to it."},
	{chat.GroupChatMentioned, "Mentioned messages", "Group messages that mention the bot (<@uid:BOT>)."},
	{chat.GroupChatSlashed, "Slashed messages", "Group messages whose text starts with / (commands such as /help)."},
	{chat.GroupChatAll, "All messages", "Every message in the groups the bot is a member of."},
}

// BotsView is the Custom Bots list.
type BotsView struct {
	Page
	Bots []chat.Bot
}

func (s *Server) botsPage(w http.ResponseWriter, r *http.Request, q *req) error {
	bots, _, err := s.app.ListBots(r.Context(), q.caller, store.BotFilter{Page: store.Page{PerPage: 1000, Number: 1}})
	if err != nil {
		return err
	}
	return s.eng.render(w, http.StatusOK, "bots", &BotsView{Page: s.base(r, q, "Custom Bots", "bots"), Bots: bots})
}

// BotFormView is the add and edit form of a bot.
type BotFormView struct {
	Page
	Form     Form
	Edit     bool
	Bot      *chat.Bot
	Users    []chat.User // UID suggestions: active users that are not bots
	Settings any
}

var botFields = []string{"uid", "name", "createUser", "webhookURL", "groupChatSetting", "enabled", "useBasicAuth", "username", "password"}

func (s *Server) botForm(r *http.Request, q *req, f Form, edit bool, b *chat.Bot) (*BotFormView, error) {
	title := "Add bot"
	if edit {
		title = "Edit " + b.UID
	}
	v := &BotFormView{Page: s.base(r, q, title, "bots"), Form: f, Edit: edit, Bot: b, Settings: GroupSettings}
	if !edit {
		users, _, err := s.app.ListUsers(r.Context(), q.caller, app.UserListInput{UserFilter: store.UserFilter{Page: store.Page{PerPage: 500, Number: 1}}})
		if err != nil {
			return nil, err
		}
		bots, _, err := s.app.ListBots(r.Context(), q.caller, store.BotFilter{Page: store.Page{PerPage: 1000, Number: 1}})
		if err != nil {
			return nil, err
		}
		isBot := map[string]bool{}
		for _, b := range bots {
			isBot[b.UID] = true
		}
		for _, u := range users {
			if !isBot[u.UID] {
				v.Users = append(v.Users, u)
			}
		}
	}
	return v, nil
}

func (s *Server) newBotPage(w http.ResponseWriter, r *http.Request, q *req) error {
	f := newForm()
	f.Values["groupChatSetting"] = chat.GroupChatNone
	f.Values["enabled"] = "on"
	f.Values["uid"] = r.URL.Query().Get("uid")
	v, err := s.botForm(r, q, f, false, nil)
	if err != nil {
		return err
	}
	return s.eng.render(w, http.StatusOK, "bot_form", v)
}

func checkbox(f Form, name string) *bool {
	on := f.Values[name] == "on"
	return &on
}

func ptr(s string) *string { return &s }

// createBot makes the user a bot; with "create the user" ticked, it first
// creates the user when the UID does not exist. The answer shows the
// signing secret, once.
func (s *Server) createBot(w http.ResponseWriter, r *http.Request, q *req) error {
	f := formFrom(r, botFields...)
	f.Values["password"] = r.PostFormValue("password") // not trimmed
	in := app.BotInput{UID: ptr(f.Values["uid"]), WebhookURL: ptr(f.Values["webhookURL"]), GroupChatSetting: ptr(f.Values["groupChatSetting"]),
		Enabled: checkbox(f, "enabled"), UseBasicAuth: checkbox(f, "useBasicAuth"), Username: ptr(f.Values["username"]), Password: ptr(f.Values["password"])}
	bot, err := s.app.CreateBot(r.Context(), q.caller, in)
	if ce := chat.AsError(err); ce != nil && ce.Code == "ERR_UID_NOT_FOUND" && f.Values["createUser"] == "on" {
		name := f.Values["name"]
		if name == "" {
			name = f.Values["uid"]
		}
		_, err = s.app.CreateUser(r.Context(), q.caller, app.UserInput{UID: ptr(f.Values["uid"]), Name: &name})
		if err == nil {
			bot, err = s.app.CreateBot(r.Context(), q.caller, in)
		}
	}
	if err != nil {
		if ce := chat.AsError(err); ce != nil && ce.Code == "ERR_UID_NOT_FOUND" {
			err = chat.Invalid("uid", "No user has the UID %q. Pick an existing user, or tick \"Create this user\".", f.Values["uid"])
		}
		if !f.absorb(err) {
			return err
		}
		f.Values["password"] = ""
		v, verr := s.botForm(r, q, f, false, nil)
		if verr != nil {
			return verr
		}
		return s.eng.render(w, http.StatusUnprocessableEntity, "bot_form", v)
	}
	return s.renderBot(w, r, q, bot.UID, bot.SigningSecret, "The bot is saved.")
}

func (s *Server) editBotPage(w http.ResponseWriter, r *http.Request, q *req) error {
	b, err := s.app.Bot(r.Context(), q.caller, r.PathValue("uid"))
	if err != nil {
		return err
	}
	f := newForm()
	f.Values["webhookURL"] = b.WebhookURL
	f.Values["groupChatSetting"] = b.GroupChatSetting
	f.Values["username"] = b.Username
	if b.Enabled {
		f.Values["enabled"] = "on"
	}
	if b.UseBasicAuth {
		f.Values["useBasicAuth"] = "on"
	}
	v, err := s.botForm(r, q, f, true, b)
	if err != nil {
		return err
	}
	return s.eng.render(w, http.StatusOK, "bot_form", v)
}

// updateBot saves the edit form. An empty password keeps the stored one
// (it is write-only and never shown).
func (s *Server) updateBot(w http.ResponseWriter, r *http.Request, q *req) error {
	uid := r.PathValue("uid")
	f := formFrom(r, botFields...)
	in := app.BotInput{WebhookURL: ptr(f.Values["webhookURL"]), GroupChatSetting: ptr(f.Values["groupChatSetting"]),
		Enabled: checkbox(f, "enabled"), UseBasicAuth: checkbox(f, "useBasicAuth"), Username: ptr(f.Values["username"])}
	if pw := r.PostFormValue("password"); pw != "" {
		in.Password = &pw
	}
	if _, err := s.app.UpdateBot(r.Context(), q.caller, uid, in); err != nil {
		if !f.absorb(err) {
			return err
		}
		b, berr := s.app.Bot(r.Context(), q.caller, uid)
		if berr != nil {
			return berr
		}
		v, verr := s.botForm(r, q, f, true, b)
		if verr != nil {
			return verr
		}
		return s.eng.render(w, http.StatusUnprocessableEntity, "bot_form", v)
	}
	return redirect(w, r, botPath(q, uid), "saved")
}

func botPath(q *req, uid string) string {
	return "/apps/" + url.PathEscape(q.app.ID) + "/bots/" + url.PathEscape(uid)
}

func (s *Server) setBotEnabled(on bool) handler {
	return func(w http.ResponseWriter, r *http.Request, q *req) error {
		uid := r.PathValue("uid")
		if _, err := s.app.UpdateBot(r.Context(), q.caller, uid, app.BotInput{Enabled: &on}); err != nil {
			return err
		}
		ok := "disabled"
		if on {
			ok = "enabled"
		}
		if r.PostFormValue("back") == "list" {
			return redirect(w, r, "/apps/"+url.PathEscape(q.app.ID)+"/bots", ok)
		}
		return redirect(w, r, botPath(q, uid), ok)
	}
}

func (s *Server) deleteBot(w http.ResponseWriter, r *http.Request, q *req) error {
	if err := s.app.DeleteBot(r.Context(), q.caller, r.PathValue("uid")); err != nil {
		return err
	}
	return redirect(w, r, "/apps/"+url.PathEscape(q.app.ID)+"/bots", "deleted")
}

func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, q *req) error {
	b, err := s.app.RotateBotSecret(r.Context(), q.caller, r.PathValue("uid"))
	if err != nil {
		return err
	}
	return s.renderBot(w, r, q, b.UID, b.SigningSecret, "A new signing secret is active. The previous one keeps signing beside it for 24 hours.")
}

func (s *Server) testBot(w http.ResponseWriter, r *http.Request, q *req) error {
	if _, err := s.app.TestBot(r.Context(), q.caller, r.PathValue("uid")); err != nil {
		return err
	}
	return redirect(w, r, botPath(q, r.PathValue("uid")), "tested")
}

// replay queues again the failed deliveries since a time (a datetime-local
// field, read as UTC, or "the last N hours").
func (s *Server) replay(w http.ResponseWriter, r *http.Request, q *req) error {
	uid := r.PathValue("uid")
	since, err := parseSince(r.PostFormValue("since"))
	if err != nil {
		return err
	}
	sec := since.Unix()
	n, err := s.app.ReplayDeliveries(r.Context(), q.caller, uid, app.ReplayInput{State: chat.DeliveryFailed, Since: &sec})
	if err != nil {
		return err
	}
	return redirect(w, r, botPath(q, uid)+"?replayed="+strconv.Itoa(n), "")
}

// parseSince reads "2026-01-02T15:04" (UTC) or a number of hours ago.
func parseSince(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if h, err := strconv.Atoi(s); err == nil && h > 0 {
		return time.Now().Add(-time.Duration(h) * time.Hour), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, chat.Invalid("since", "Give the start time as YYYY-MM-DDTHH:MM (UTC).")
}

// BotView is a bot's page: configuration, health, delivery log.
type BotView struct {
	Page
	Bot         *chat.Bot
	Secret      string // shown once, right after create or rotate
	Deliveries  []chat.Delivery
	Total       int
	State       string // the log's state filter
	PageNum     int
	Pages       int
	Replayed    int
	ReplaySince string
	Setting     string
	Failing     bool // pending deliveries are held
}

const logPerPage = 25

func (s *Server) botPage(w http.ResponseWriter, r *http.Request, q *req) error {
	return s.renderBot(w, r, q, r.PathValue("uid"), "", "")
}

func (s *Server) renderBot(w http.ResponseWriter, r *http.Request, q *req, uid, secret, flash string) error {
	b, err := s.app.Bot(r.Context(), q.caller, uid)
	if err != nil {
		return err
	}
	qs := r.URL.Query()
	v := &BotView{Page: s.base(r, q, b.UID, "bots"), Bot: b, Secret: secret, PageNum: atoiDefault(qs.Get("page"), 1),
		ReplaySince: time.Now().UTC().Add(-24 * time.Hour).Format("2006-01-02T15:04")}
	if flash != "" {
		v.Flash = flash
	}
	v.Failing = b.Health != nil && b.Health.State == chat.HealthFailing
	for _, gs := range GroupSettings {
		if gs.Value == b.GroupChatSetting {
			v.Setting = gs.Label
		}
	}
	if st, ok := chat.ParseDeliveryState(qs.Get("state")); ok {
		v.State = st
	}
	if n, err := strconv.Atoi(qs.Get("replayed")); err == nil {
		v.Replayed = n
		v.Flash = strconv.Itoa(n) + " failed deliveries are queued again."
		if n == 1 {
			v.Flash = "1 failed delivery is queued again."
		}
	}
	v.Deliveries, v.Total, err = s.app.ListDeliveries(r.Context(), q.caller, b.UID,
		store.DeliveryFilter{State: v.State, Page: store.Page{PerPage: logPerPage, Number: v.PageNum}})
	if err != nil {
		return err
	}
	v.Pages = max(1, (v.Total+logPerPage-1)/logPerPage)
	return s.eng.render(w, http.StatusOK, "bot", v)
}

// DeliveryView is one delivery with every attempt.
type DeliveryView struct {
	Page
	Bot      string
	Delivery *chat.Delivery
	Payload  string
}

func (s *Server) deliveryPage(w http.ResponseWriter, r *http.Request, q *req) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return chat.Errorf(chat.KindNotFound, "ERR_DELIVERY_NOT_FOUND", "There is no delivery %q.", r.PathValue("id"))
	}
	d, err := s.app.Delivery(r.Context(), q.caller, r.PathValue("uid"), id)
	if err != nil {
		return err
	}
	v := &DeliveryView{Page: s.base(r, q, "Delivery "+strconv.FormatInt(id, 10), "bots"), Bot: d.Bot, Delivery: d, Payload: indentJSON(d.Payload)}
	return s.eng.render(w, http.StatusOK, "delivery", v)
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, q *req) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return chat.Errorf(chat.KindNotFound, "ERR_DELIVERY_NOT_FOUND", "There is no delivery %q.", r.PathValue("id"))
	}
	uid := r.PathValue("uid")
	if _, err := s.app.RetryDelivery(r.Context(), q.caller, uid, id); err != nil {
		return err
	}
	if r.PostFormValue("back") == "delivery" {
		return redirect(w, r, botPath(q, uid)+"/deliveries/"+strconv.FormatInt(id, 10), "retried")
	}
	return redirect(w, r, botPath(q, uid), "retried")
}
