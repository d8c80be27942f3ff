package web_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive Debian's Chromium, headless, through the whole
// seed flow. They run when PARLEY_BROWSER_TESTS is set (scripts/test sets
// it after installing chromium) or when a chromium is installed; without
// either they are skipped, so `go test ./...` needs no browser.

// chromiumPath finds the browser, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PARLEY_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("PARLEY_BROWSER_TESTS") != "" {
		t.Fatal("PARLEY_BROWSER_TESTS is set but no chromium is installed (apt-get install -y chromium)")
	}
	t.Skip("browser tests skipped: chromium is not installed (scripts/test installs it; or set PARLEY_BROWSER_TESTS=1)")
	return ""
}

// browser is one headless Chromium with a fresh profile.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first Do starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// step runs actions with a deadline; on failure it saves a screenshot and
// the page's HTML and stops the test, saying where they are.
func (b *browser) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.failf("%s: %v", name, err)
	}
}

// failf saves the evidence and fails the test.
func (b *browser) failf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	dir, err := os.MkdirTemp("", "parley-browser-failure-")
	if err == nil {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		defer cancel()
		shotPath, htmlPath := filepath.Join(dir, "page.png"), filepath.Join(dir, "page.html")
		if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(shotPath, png, 0o644) //nolint:errcheck // best effort
		}
		if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
			os.WriteFile(htmlPath, []byte(html), 0o644) //nolint:errcheck // best effort
		}
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		msg += fmt.Sprintf("\n  page: %s\n  screenshot: %s\n  html: %s", loc, shotPath, htmlPath)
	}
	b.t.Fatal(msg)
}

// text returns the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.failf("read %s: %v", sel, err)
	}
	return s
}

// waitJS waits until a JavaScript expression is truthy.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 25*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.failf("waiting for %s: %v", what, err)
	}
}

func (b *browser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.failf("location: %v", err)
	}
	return loc
}

func (b *browser) contains(sel, want string) {
	b.t.Helper()
	if got := b.text(sel); !strings.Contains(got, want) {
		b.failf("%s says %q, want it to contain %q", sel, got, want)
	}
}

// TestBrowserSeedFlow is the seed flow in a real browser: log in, create a
// user, add a bot for it pointing at a recording endpoint, chat with it
// from the console, see the bot's reply arrive live and the delivery in
// the log, then a failing endpoint and a replay.
func TestBrowserSeedFlow(t *testing.T) {
	b := newBrowser(t)
	e := start(t)
	rec := newRecorder(t)
	app := e.base + "/apps/" + e.appID

	// A page behind the login redirects to it.
	b.step("open a page behind the login", chromedp.Navigate(app+"/bots"), chromedp.WaitVisible(chromedp.CSS("#password")))
	if loc := b.location(); !strings.Contains(loc, "/login?next=") {
		b.failf("a page behind the login went to %s, want the login page", loc)
	}

	// A wrong password is refused.
	b.step("log in with a wrong password",
		chromedp.SendKeys(chromedp.CSS("#username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not-the-password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#login-error")))
	b.contains("#login-error", "not correct")

	// The right one opens the page asked for first.
	b.step("log in",
		chromedp.SetValue(chromedp.CSS("#username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".empty h2")))
	b.contains("h1", "Custom Bots")
	b.contains(".empty h2", "No bots yet")

	// Create a user.
	b.step("create a user",
		chromedp.Navigate(app+"/users/new"),
		chromedp.SendKeys(chromedp.CSS("#uid"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Alice Doe"),
		chromedp.Click(chromedp.CSS("form button[type=submit].primary")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.contains("h1", "Alice Doe")

	// Add a bot: first a URL outside the allowed ranges, refused next to
	// the field; then the recording endpoint, with the user created in the
	// same flow.
	b.step("open Add bot from the navigation",
		chromedp.Navigate(app+"/users"),
		chromedp.Click(chromedp.CSS(`nav a[href$="/bots"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/bots/new"]`)),
		chromedp.Click(chromedp.CSS(`.actions a[href$="/bots/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#webhookURL")))
	b.step("submit a plain-http public URL",
		chromedp.SendKeys(chromedp.CSS("#uid"), "helper"),
		chromedp.Click(chromedp.CSS("#createUser")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Helper Bot"),
		chromedp.SendKeys(chromedp.CSS("#webhookURL"), "http://bots.example.org/hook"),
		chromedp.Click(chromedp.CSS(`input[name=groupChatSetting][value=mentionedMessages]`)),
		chromedp.Click(chromedp.CSS("#useBasicAuth")),
		chromedp.SendKeys(chromedp.CSS("#username"), "botuser"),
		chromedp.SendKeys(chromedp.CSS("#password"), "s3cret-pass"),
		chromedp.Click(chromedp.CSS("button[type=submit].primary")),
		chromedp.WaitVisible(chromedp.CSS("#url-err")))
	b.contains("#url-err", "must use https")
	b.step("fix the URL and save",
		chromedp.SetValue(chromedp.CSS("#webhookURL"), rec.srv.URL+"/hook"),
		chromedp.SendKeys(chromedp.CSS("#password"), "s3cret-pass"),
		chromedp.Click(chromedp.CSS("button[type=submit].primary")),
		chromedp.WaitVisible(chromedp.CSS("#signing-secret")))
	if s := b.text("#signing-secret"); !strings.HasPrefix(s, "whsec_") {
		b.failf("signing secret %q", s)
	}
	b.contains("h1", "helper")

	// Chat from the console: the endpoint receives it with Basic auth.
	b.step("open the console",
		chromedp.Navigate(app+"/console?as=alice&with=user:helper"),
		chromedp.WaitVisible(chromedp.CSS("#composer")))
	b.waitJS("the WebSocket", `document.getElementById("live").textContent === "live"`)
	b.step("send a message", chromedp.SendKeys(chromedp.CSS("#text"), "where is my order?"), chromedp.Click(chromedp.CSS("#send")))
	got := rec.next(t)
	if got.text() != "where is my order?" {
		b.failf("the bot received %q", got.text())
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("botuser:s3cret-pass")); got.Header.Get("Authorization") != want {
		b.failf("Authorization %q, want %q", got.Header.Get("Authorization"), want)
	}
	b.waitJS("the delivered badge", `[...document.querySelectorAll(".msg.mine .dbadge")].some(a => a.dataset.state === "succeeded" && a.textContent.startsWith("helper: delivered"))`)

	// The bot replies through the REST API; the reply appears without a reload.
	b.step("mark the page", chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))
	e.api("POST", "/v3/bots/helper/messages", `{"receiver":"alice","receiverType":"user","data":{"text":"on its way, Alice"}}`)
	b.waitJS("the bot's reply", `[...document.querySelectorAll(".msg:not(.mine) .bubble")].some(x => x.textContent === "on its way, Alice") && window.__noReload === true`)

	// The delivery is in the bot's log, with its request and answer.
	b.step("open the bot's log", chromedp.Navigate(app+"/bots/helper"), chromedp.WaitVisible(chromedp.CSS("tr[data-delivery]")))
	b.contains("tr[data-delivery] .badge", "succeeded")
	b.step("open the delivery", chromedp.Click(chromedp.CSS(`tr[data-delivery] a.btn`)), chromedp.WaitVisible(chromedp.CSS(".attempt")))
	b.contains(".attempt", "HTTP 200")
	b.contains("pre.block", "where is my order?")
	b.contains(".attempt table", "Webhook-Signature")

	// A failing endpoint shows the failure; a replay after the fix works.
	rec.setStatus(http.StatusBadRequest) // a permanent failure: no retry
	b.step("send while the endpoint fails",
		chromedp.Navigate(app+"/console?as=alice&with=user:helper"),
		chromedp.WaitVisible(chromedp.CSS("#composer")))
	b.waitJS("the WebSocket", `document.getElementById("live").textContent === "live"`)
	b.step("send", chromedp.SendKeys(chromedp.CSS("#text"), "second try"), chromedp.Click(chromedp.CSS("#send")))
	if r := rec.next(t); r.text() != "second try" {
		b.failf("the bot received %q", r.text())
	}
	b.waitJS("the failed badge", `[...document.querySelectorAll(".dbadge")].some(a => a.dataset.state === "failed")`)
	b.step("see the failure in the log", chromedp.Navigate(app+"/bots/helper?state=failed"), chromedp.WaitVisible(chromedp.CSS("tr[data-delivery]")))
	b.contains("tr[data-delivery]", "HTTP 400")
	rec.setStatus(http.StatusOK)
	b.step("replay the failed deliveries", chromedp.Click(chromedp.CSS("#replay")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	b.contains(".flash", "1 failed delivery is queued again.")
	if r := rec.next(t); r.text() != "second try" {
		b.failf("the replay sent %q", r.text())
	}
	b.waitJS("the replayed delivery to succeed", `fetch(location.pathname + "?state=failed").then(r => r.text()).then(h => { window.__failedGone = !h.includes("data-delivery="); }), window.__failedGone === true`)

	// A forged form (wrong token) is refused by the server.
	b.step("post a forged form", chromedp.Evaluate[chromedp.Void](`(() => {
		const f = document.createElement("form"); f.method = "post"; f.action = location.pathname + "/disable";
		const i = document.createElement("input"); i.name = "csrf"; i.value = "forged"; f.appendChild(i);
		document.body.appendChild(f); f.submit(); })()`), chromedp.WaitVisible(chromedp.CSS(".empty h2")))
	b.contains(".empty h2", "Request refused")
	if bot := e.api("GET", "/v3/bots/helper", "")["data"].(map[string]any); bot["enabled"] != true {
		b.failf("a forged form disabled the bot")
	}
}
