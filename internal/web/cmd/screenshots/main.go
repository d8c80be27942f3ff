// Command screenshots starts a parley server with demo data on loopback,
// drives headless Chromium through the dashboard and saves PNGs of the main
// pages (1280x800, and one at phone width) for the documentation:
//
//	go run ./internal/web/cmd/screenshots [-out docs/screenshots] [-chromium /usr/bin/chromium]
//
// It needs Debian's chromium (apt-get install -y chromium).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"parley/internal/app"
	"parley/internal/chat"
	"parley/internal/config"
	"parley/internal/dispatch"
	"parley/internal/server"
	"parley/internal/webhook"
)

const password = "demo-password-1"

func main() {
	out := flag.String("out", "docs/screenshots", "directory for the PNG files")
	chromium := flag.String("chromium", "/usr/bin/chromium", "the Chromium binary")
	extra := flag.Bool("extra", false, "also take the secondary pages (for reviewing the design, not for docs/)")
	flag.Parse()
	if err := run(*out, *chromium, *extra); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}

func run(out, chromium string, extra bool) error {
	ctx := context.Background()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "parley-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Demo bot endpoints: one answers with an inline reply, one is down.
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cb struct {
			Data struct {
				Data struct {
					Text string `json:"text"`
				} `json:"data"`
			} `json:"data"`
		}
		json.NewDecoder(r.Body).Decode(&cb) //nolint:errcheck // demo
		reply := "Thanks! Let me look that up for you."
		if strings.Contains(strings.ToLower(cb.Data.Data.Text), "order") {
			reply = "Order #1042 left our warehouse this morning; it arrives tomorrow before noon."
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"reply": map[string]string{"text": reply}}) //nolint:errcheck // demo
	}))
	defer good.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream translation service unavailable", http.StatusServiceUnavailable)
	}))
	defer down.Close()

	cfg := config.Serve{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(tmp, "parley.db"), WebhookAllow: "127.0.0.0/8"}
	srv, err := server.OpenWith(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), server.Options{Dispatch: dispatch.Config{
		Timeout: 2 * time.Second,
		Retry:   webhook.Policy{Base: 30 * time.Millisecond, Cap: 60 * time.Millisecond, MaxAge: time.Hour},
		Health:  chat.HealthPolicy{FailingAfter: 3, ProbeMin: 4 * time.Minute, ProbeMax: 5 * time.Minute},
		Poll:    30 * time.Millisecond,
	}})
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	defer func() { stop(); <-done }()
	if err := srv.Admins.SetAdminPassword(ctx, "admin", password); err != nil {
		return err
	}
	appID, err := seed(ctx, srv.App, good.URL+"/parley", down.URL+"/hook")
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	base := "http://" + srv.Addr()
	ap := base + "/apps/" + appID

	actx, cancelA := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(filepath.Join(tmp, "profile")), chromedp.WindowSize(1280, 800))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	do := func(name string, steps ...chromedp.Action[chromedp.Void]) error {
		c, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	shot := func(name string) error {
		c, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		b, err := chromedp.Run(c, chromedp.CaptureScreenshot())
		if err != nil {
			return fmt.Errorf("screenshot %s: %w", name, err)
		}
		b, err = recompress(b)
		if err != nil {
			return err
		}
		path := filepath.Join(out, name+".png")
		fmt.Printf("%s (%d KB)\n", path, len(b)/1024)
		return os.WriteFile(path, b, 0o644)
	}

	steps := []struct {
		name  string
		steps []chromedp.Action[chromedp.Void]
	}{
		{"login", []chromedp.Action[chromedp.Void]{chromedp.Navigate(base + "/login"), chromedp.WaitVisible(chromedp.CSS("#password"))}},
		{"", []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#username"), "admin"), chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".sidebar"))}},
		{"bots", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/bots"), chromedp.WaitVisible(chromedp.CSS("table"))}},
		{"bot-add", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/bots/new"), chromedp.WaitVisible(chromedp.CSS("#webhookURL")),
			chromedp.SendKeys(chromedp.CSS("#uid"), "orders"), chromedp.Click(chromedp.CSS("#createUser")),
			chromedp.SendKeys(chromedp.CSS("#name"), "Orders Bot"), chromedp.SendKeys(chromedp.CSS("#webhookURL"), "http://bots.example.org/orders"),
			chromedp.Click(chromedp.CSS("button[type=submit].primary")), chromedp.WaitVisible(chromedp.CSS("#url-err"))}},
		{"bot", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/bots/helpdesk"), chromedp.WaitVisible(chromedp.CSS("tr[data-delivery]"))}},
		{"bot-failing", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/bots/translator"), chromedp.WaitVisible(chromedp.CSS("tr[data-delivery]"))}},
		{"delivery", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/bots/translator"),
			chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("tr[data-delivery]")].find(r => r.querySelector("td.num").textContent.trim() !== "0").querySelector("a.btn").click()`),
			chromedp.WaitVisible(chromedp.CSS(".attempt")), chromedp.Evaluate[chromedp.Void](`document.querySelector(".attempt").scrollIntoView()`)}},
		{"console", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/console?as=alice&with=user:helpdesk"), chromedp.WaitVisible(chromedp.CSS("#composer")),
			chromedp.Poll[chromedp.Void](`document.getElementById("live").textContent === "live"`, chromedp.WithPollingTimeout(10*time.Second)),
			chromedp.SendKeys(chromedp.CSS("#text"), "Can I change the delivery address?"), chromedp.Click(chromedp.CSS("#send")),
			chromedp.Poll[chromedp.Void](`document.querySelectorAll(".msg:not(.mine)").length >= 2 && [...document.querySelectorAll(".dbadge")].every(a => a.dataset.state === "succeeded")`,
				chromedp.WithPollingTimeout(10*time.Second))}},
		{"users", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/users"), chromedp.WaitVisible(chromedp.CSS("table"))}},
		{"group", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/groups/support"), chromedp.WaitVisible(chromedp.CSS("table"))}},
		{"keys", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/keys"), chromedp.WaitVisible(chromedp.CSS("table"))}},
		{"bots-phone", []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(390, 800, chromedp.EmulateMobile), chromedp.Navigate(ap + "/bots"),
			chromedp.WaitVisible(chromedp.CSS("table"))}},
	}
	if extra {
		more := []struct {
			name  string
			steps []chromedp.Action[chromedp.Void]
		}{
			{"x-apps", []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base + "/apps"), chromedp.WaitVisible(chromedp.CSS("table"))}},
			{"x-groups", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/groups"), chromedp.WaitVisible(chromedp.CSS("table"))}},
			{"x-user", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/users/alice"), chromedp.WaitVisible(chromedp.CSS("#name"))}},
			{"x-bot-edit", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/bots/helpdesk/edit"), chromedp.WaitVisible(chromedp.CSS("#webhookURL")),
				chromedp.Evaluate[chromedp.Void](`document.querySelector("fieldset:nth-of-type(2)").scrollIntoView()`)}},
			{"x-console-empty", []chromedp.Action[chromedp.Void]{chromedp.Navigate(ap + "/console"), chromedp.WaitVisible(chromedp.CSS("#open"))}},
			{"x-console-phone", []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(390, 800, chromedp.EmulateMobile),
				chromedp.Navigate(ap + "/console?as=alice&with=user:helpdesk"), chromedp.WaitVisible(chromedp.CSS("#composer"))}},
			{"x-404", []chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(1280, 800), chromedp.Navigate(ap + "/bots/nope"), chromedp.WaitVisible(chromedp.CSS(".empty"))}},
		}
		steps = append(steps, more...)
	}
	for _, s := range steps {
		if err := do(s.name, s.steps...); err != nil {
			return err
		}
		if s.name != "" {
			if err := shot(s.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// recompress re-encodes Chromium's PNG as a paletted PNG with the best
// compression: the 256 most frequent colours (a flat UI has few; text
// antialiasing maps to the nearest), which keeps the documentation's
// images at a fraction of the size.
func recompress(b []byte) ([]byte, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, paletted(img)); err != nil {
		return nil, err
	}
	if out.Len() > len(b) {
		return b, nil
	}
	return out.Bytes(), nil
}

func paletted(img image.Image) *image.Paletted {
	r := img.Bounds()
	counts := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			counts[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	type kv struct {
		c color.RGBA
		n int
	}
	all := make([]kv, 0, len(counts))
	for c, n := range counts {
		all = append(all, kv{c, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	pal := color.Palette{}
	for _, e := range all[:min(256, len(all))] {
		pal = append(pal, e.c)
	}
	out := image.NewPaletted(r, pal)
	index := map[color.RGBA]uint8{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			i, ok := index[c]
			if !ok {
				i = uint8(pal.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	return out
}

// seed creates the demo app: users, bots (one healthy with an inline
// reply, one failing), a group and some conversation.
func seed(ctx context.Context, a *app.App, goodURL, downURL string) (string, error) {
	na, err := a.CreateApp(ctx, "Acme Support", "eu")
	if err != nil {
		return "", err
	}
	c, _, err := a.DashboardCaller(ctx, na.App.ID)
	if err != nil {
		return "", err
	}
	s := func(v string) *string { return &v }
	t := true
	users := [][2]string{{"alice", "Alice Martin"}, {"bob", "Bob Chen"}, {"carol", "Carol Diaz"}, {"dave", "Dave Okafor"},
		{"erin", "Erin Walsh"}, {"helpdesk", "Helpdesk"}, {"standup", "Standup Bot"}, {"translator", "Translator"}}
	for _, u := range users {
		if _, err := a.CreateUser(ctx, c, app.UserInput{UID: s(u[0]), Name: s(u[1])}); err != nil {
			return "", err
		}
	}
	if _, err := a.CreateAPIKey(ctx, c, app.APIKeyInput{Name: s("Helpdesk service"), Scope: s("fullAccess")}); err != nil {
		return "", err
	}
	if _, err := a.CreateAPIKey(ctx, c, app.APIKeyInput{Name: s("Mobile app"), Scope: s("authOnly")}); err != nil {
		return "", err
	}
	bots := []app.BotInput{
		{UID: s("helpdesk"), WebhookURL: s(goodURL), GroupChatSetting: s("mentionedMessages"), Enabled: &t, UseBasicAuth: &t, Username: s("parley"), Password: s("hunter22")},
		{UID: s("standup"), WebhookURL: s("https://standup.example.org/parley"), GroupChatSetting: s("slashedMessages")},
		{UID: s("translator"), WebhookURL: s(downURL), GroupChatSetting: s("allMessages"), Enabled: &t},
	}
	for _, b := range bots {
		if _, err := a.CreateBot(ctx, c, b); err != nil {
			return "", err
		}
	}
	if _, err := a.CreateGroup(ctx, c, app.GroupInput{GUID: s("support"), Name: s("Customer support"), Type: s("private"), Owner: s("alice"),
		Members: &app.MembersInput{Moderators: []string{"bob"}, Participants: []string{"carol", "helpdesk", "translator"}}}); err != nil {
		return "", err
	}
	if _, err := a.CreateGroup(ctx, c, app.GroupInput{GUID: s("general"), Name: s("General"), Type: s("public"),
		Members: &app.MembersInput{Participants: []string{"alice", "bob", "dave", "erin"}}}); err != nil {
		return "", err
	}
	send := func(from, to, typ, text string) error {
		cc := c
		cc.OnBehalfOf = from
		data, _ := json.Marshal(map[string]string{"text": text})
		_, err := a.SendMessage(ctx, cc, app.SendInput{Receiver: to, ReceiverType: typ, Data: data})
		return err
	}
	for _, m := range [][4]string{
		{"alice", "helpdesk", "user", "Hi! Where is my order #1042?"},
		{"bob", "helpdesk", "user", "How do I reset my password?"},
		{"carol", "support", "group", "Hola a todos, ¿alguien puede ayudarme?"},
		{"bob", "support", "group", "<@uid:helpdesk> can you open a ticket for Carol?"},
		{"alice", "support", "group", "Thanks Bob, on it."},
		{"carol", "support", "group", "Gracias!"},
	} {
		if err := send(m[0], m[1], m[2], m[3]); err != nil {
			return "", err
		}
	}
	if _, err := a.TestBot(ctx, c, "helpdesk"); err != nil {
		return "", err
	}
	// Wait until the healthy bot's deliveries are done and the failing one
	// is failing.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		h, err1 := a.Bot(ctx, c, "helpdesk")
		f, err2 := a.Bot(ctx, c, "translator")
		if err1 == nil && err2 == nil && h.Health.Pending == 0 && f.Health.State == chat.HealthFailing {
			return na.App.ID, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("the demo deliveries did not settle")
}
