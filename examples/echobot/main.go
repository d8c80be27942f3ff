// Command echobot is a runnable parley bot: it answers every message it
// receives with the same text. It verifies each callback (signature and,
// when configured, Basic auth), answers 200 at once and replies through
// parley's REST API.
//
//	PARLEY_URL=http://127.0.0.1:8080 PARLEY_APP_ID=... PARLEY_API_KEY=... \
//	BOT_SECRET=whsec_... go run ./examples/echobot -addr 127.0.0.1:9000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"parley/botkit"
)

// settings are what the bot needs, from flags and the environment.
type settings struct {
	Addr     string // where to listen for callbacks
	BaseURL  string // parley's base URL
	AppID    string
	APIKey   string // a fullAccess REST API key
	Secret   string // the bot's signing secret (whsec_...)
	Username string // Basic auth, when the bot uses it
	Password string
}

// newHandler returns the bot's callback handler.
func newHandler(c settings, log *slog.Logger) *botkit.Handler {
	api := &botkit.Client{BaseURL: c.BaseURL, AppID: c.AppID, APIKey: c.APIKey}
	v := &botkit.Verifier{Secrets: []string{c.Secret}, Username: c.Username, Password: c.Password}
	h := v.Handler(func(ctx context.Context, cb *botkit.Callback) error {
		if cb.Data.Data.Text == "" {
			return nil // custom and media messages: nothing to echo
		}
		_, err := api.Reply(ctx, cb.Bot, &cb.Data, "you said: "+cb.Data.Data.Text)
		return err
	})
	h.OnError = func(cb *botkit.Callback, err error) { log.Warn("echobot: reply failed", "err", err) }
	return h
}

func main() {
	c := settings{BaseURL: os.Getenv("PARLEY_URL"), AppID: os.Getenv("PARLEY_APP_ID"), APIKey: os.Getenv("PARLEY_API_KEY"),
		Secret: os.Getenv("BOT_SECRET"), Username: os.Getenv("BOT_USERNAME"), Password: os.Getenv("BOT_PASSWORD")}
	flag.StringVar(&c.Addr, "addr", "127.0.0.1:9000", "listen address for callbacks")
	flag.Parse()
	if c.BaseURL == "" || c.AppID == "" || c.APIKey == "" || c.Secret == "" {
		fmt.Fprintln(os.Stderr, "echobot: set PARLEY_URL, PARLEY_APP_ID, PARLEY_API_KEY and BOT_SECRET")
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	h := newHandler(c, log)
	srv := &http.Server{Addr: c.Addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("echobot listening", "addr", c.Addr)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "echobot: %v\n", err)
			os.Exit(1)
		}
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown) // no new callbacks
	_ = h.Shutdown(shutdown)   // replies in progress finish
}
