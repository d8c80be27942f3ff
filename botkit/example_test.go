package botkit_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"parley/botkit"
)

// An echo bot: it answers every message it receives with the same text.
// Run it with the bot's signing secret and an API key, and give parley its
// URL (http://bot-host:8080/) as the bot's callback.
func Example_echoBot() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	api := &botkit.Client{BaseURL: os.Getenv("PARLEY_URL"), AppID: os.Getenv("PARLEY_APP_ID"), APIKey: os.Getenv("PARLEY_API_KEY")}
	verifier := &botkit.Verifier{Secrets: []string{os.Getenv("BOT_SECRET")}}
	handler := verifier.Handler(func(ctx context.Context, cb *botkit.Callback) error {
		_, err := api.Reply(ctx, cb.Bot, &cb.Data, "you said: "+cb.Data.Data.Text)
		return err
	})

	srv := &http.Server{Addr: ":8080", Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	<-ctx.Done() // Ctrl-C
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)     // no new callbacks
	_ = handler.Shutdown(shutdown) // replies in progress finish
}
