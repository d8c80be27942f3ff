package app

import (
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"parley/internal/chat"
	"parley/internal/store"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h := hashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", h)
	}
	if h == hashPassword("correct horse battery") {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !verifyPassword(h, "correct horse battery") {
		t.Fatal("the right password does not verify")
	}
	for _, bad := range []string{"correct horse batterY", "", "correct horse battery "} {
		if verifyPassword(h, bad) {
			t.Fatalf("%q verifies", bad)
		}
	}
	for _, broken := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", h[:len(h)-3] + "!!!"} {
		if verifyPassword(broken, "x") {
			t.Fatalf("malformed hash %q verifies", broken)
		}
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newAdmins(t *testing.T) (*Admins, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	db, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "p.db"), store.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := New(db, DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	return NewAdmins(a, AdminConfig{Now: clk.now}), clk
}

func TestFirstAdminLoginSessionLogout(t *testing.T) {
	t.Parallel()
	ad, clk := newAdmins(t)
	ctx := t.Context()
	pw, err := ad.EnsureFirstAdmin(ctx)
	if err != nil || len(pw) != 20 {
		t.Fatalf("first admin: %q, %v", pw, err)
	}
	if again, err := ad.EnsureFirstAdmin(ctx); err != nil || again != "" {
		t.Fatalf("second EnsureFirstAdmin: %q, %v; want nothing created", again, err)
	}
	if _, _, err := ad.Login(ctx, LoginInput{Username: "admin", Password: "wrong-password", IP: "10.0.0.1"}); chat.KindOf(err) != chat.KindUnauthenticated {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := ad.Login(ctx, LoginInput{Username: "nobody", Password: pw, IP: "10.0.0.1"}); chat.KindOf(err) != chat.KindUnauthenticated {
		t.Fatalf("unknown user: %v", err)
	}
	s, id, err := ad.Login(ctx, LoginInput{Username: "admin", Password: pw, IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Username != "admin" || s.CSRF == "" || id == "" || s.CSRF == id {
		t.Fatalf("session %+v id %q", s, id)
	}
	got, err := ad.SessionOf(ctx, id)
	if err != nil || got.CSRF != s.CSRF {
		t.Fatalf("session lookup: %+v, %v", got, err)
	}
	if _, err := ad.SessionOf(ctx, id+"x"); chat.KindOf(err) != chat.KindUnauthenticated {
		t.Fatalf("unknown session id: %v", err)
	}
	// Idle expiry: used 6 minutes later the session moves; unused 13 h it ends.
	clk.add(6 * time.Minute)
	if _, err := ad.SessionOf(ctx, id); err != nil {
		t.Fatalf("session after 6 minutes: %v", err)
	}
	clk.add(13 * time.Hour)
	if _, err := ad.SessionOf(ctx, id); chat.KindOf(err) != chat.KindUnauthenticated {
		t.Fatalf("session after 13 idle hours: %v, want ended", err)
	}
	_, id, err = ad.Login(ctx, LoginInput{Username: "admin", Password: pw, IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ad.Logout(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := ad.SessionOf(ctx, id); chat.KindOf(err) != chat.KindUnauthenticated {
		t.Fatalf("session after logout: %v", err)
	}
}

func TestSetPasswordEndsSessions(t *testing.T) {
	t.Parallel()
	ad, _ := newAdmins(t)
	ctx := t.Context()
	if err := ad.SetAdminPassword(ctx, "admin", "short"); chat.KindOf(err) != chat.KindInvalid {
		t.Fatalf("short password: %v", err)
	}
	if err := ad.SetAdminPassword(ctx, "admin", "first-password-1"); err != nil {
		t.Fatal(err)
	}
	_, id, err := ad.Login(ctx, LoginInput{Username: "admin", Password: "first-password-1", IP: "::1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ad.SetAdminPassword(ctx, "admin", "second-password-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := ad.SessionOf(ctx, id); chat.KindOf(err) != chat.KindUnauthenticated {
		t.Fatalf("session after a password change: %v, want ended", err)
	}
	if _, _, err := ad.Login(ctx, LoginInput{Username: "admin", Password: "first-password-1", IP: "::1"}); err == nil {
		t.Fatal("the old password still logs in")
	}
	if _, _, err := ad.Login(ctx, LoginInput{Username: "admin", Password: "second-password-2", IP: "::1"}); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	ad, clk := newAdmins(t)
	ctx := t.Context()
	if err := ad.SetAdminPassword(ctx, "admin", "the-right-password"); err != nil {
		t.Fatal(err)
	}
	bad := LoginInput{Username: "admin", Password: "guess", IP: "192.0.2.7"}
	for i := range throttleFree + 1 {
		if _, _, err := ad.Login(ctx, bad); chat.KindOf(err) != chat.KindUnauthenticated {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Locked now: even the right password is refused without a check.
	good := bad
	good.Password = "the-right-password"
	if _, _, err := ad.Login(ctx, good); chat.KindOf(err) != chat.KindRateLimited {
		t.Fatalf("right password while locked: %v, want rate limited", err)
	}
	// Another IP is not locked for this username.
	other := good
	other.IP = "192.0.2.8"
	if _, _, err := ad.Login(ctx, other); err != nil {
		t.Fatalf("another IP: %v", err)
	}
	clk.add(throttleBase + time.Millisecond)
	if _, _, err := ad.Login(ctx, bad); chat.KindOf(err) != chat.KindUnauthenticated {
		t.Fatalf("after the lock: %v", err)
	}
	// The lock doubles.
	clk.add(throttleBase + time.Millisecond)
	if _, _, err := ad.Login(ctx, good); chat.KindOf(err) != chat.KindRateLimited {
		t.Fatalf("second lock after 1 s: %v, want still locked (2 s)", err)
	}
	clk.add(throttleBase)
	if _, _, err := ad.Login(ctx, good); err != nil {
		t.Fatalf("after the second lock: %v", err)
	}
}
