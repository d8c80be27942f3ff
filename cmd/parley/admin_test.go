package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFirstStartPrintsTheDashboardLogin starts the real binary, logs in to
// the dashboard with the printed password, then changes it with
// `parley admin set-password` while the server runs.
func TestFirstStartPrintsTheDashboardLogin(t *testing.T) {
	t.Parallel()
	db := testDB(t)
	p := startBinary(t, db)
	var pw string
	deadline := time.Now().Add(10 * time.Second)
	re := regexp.MustCompile(`Password:\s+(\S+)`)
	for pw == "" && time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.stdout.String()); m != nil {
			pw = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := p.stdout.String()
	if pw == "" || !strings.Contains(out, "Dashboard: "+p.base+"/") || !strings.Contains(out, "Username:      admin") {
		t.Fatalf("first start output lacks the dashboard login:\n%s", out)
	}
	if code := login(t, p.base, pw); code != http.StatusSeeOther {
		t.Fatalf("login with the printed password: %d", code)
	}

	var stdout, stderr bytes.Buffer
	code := runIO(t.Context(), []string{"admin", "set-password", "--db", db}, func(string) string { return "" },
		strings.NewReader("a-brand-new-password\n"), &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "The password of admin is set") {
		t.Fatalf("set-password: exit %d, %q %q", code, stdout.String(), stderr.String())
	}
	if code := login(t, p.base, pw); code != http.StatusUnauthorized {
		t.Fatalf("login with the old password: %d, want 401", code)
	}
	if code := login(t, p.base, "a-brand-new-password"); code != http.StatusSeeOther {
		t.Fatalf("login with the new password: %d", code)
	}
}

func TestSetPasswordErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	db := "sqlite:" + filepath.Join(t.TempDir(), "p.db")
	cases := []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"admin"}, "", 2, "unknown admin command"},
		{[]string{"admin", "set-password", "--db", db}, "", 2, "no password on standard input"},
		{[]string{"admin", "set-password", "--db", db}, "short\n", 1, "at least 10 characters"},
		{[]string{"admin", "set-password", "--username", "two words", "--db", db}, "long-enough-pw\n", 1, "without spaces"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := runIO(t.Context(), c.args, func(string) string { return "" }, strings.NewReader(c.stdin), &stdout, &stderr)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last := lines[len(lines)-1]
		if code != c.code || !strings.Contains(last, c.want) {
			t.Errorf("%v: exit %d, last line %q; want %d and %q", c.args, code, last, c.code, c.want)
		}
	}
}

// login posts the dashboard's login form and returns the status.
func login(t *testing.T, base, password string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no token on the login page: %s", body)
	}
	res, err = c.PostForm(base+"/login", url.Values{"csrf": {string(m[1])}, "username": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
