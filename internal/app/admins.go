package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"parley/internal/chat"
	"parley/internal/store"
)

// This file holds the dashboard's accounts: the first admin, passwords,
// logins with a throttle, and sessions. docs/decisions/dashboard.md
// explains the choices.

// FirstAdmin is the account the first start creates.
const FirstAdmin = "admin"

// Limits of dashboard accounts and sessions.
const (
	minPasswordLen = 10  // runes; a random 20-character one is generated for the first admin
	maxPasswordLen = 256 // bytes hashed; longer is refused rather than truncated
	maxUsernameLen = 64
	// sessionIdle ends a session not used for this long; sessionMax ends
	// any session this long after the login.
	sessionIdle = 12 * time.Hour
	sessionMax  = 7 * 24 * time.Hour
	// sessionTouchEvery bounds the writes of session use: last_seen_at
	// moves at most this often per session.
	sessionTouchEvery = 5 * time.Minute
)

// Login throttle (in memory: one node; docs/decisions/dashboard.md). After
// throttleFree failures of one (username, IP), each further failure locks
// that pair for throttleBase·2^(n-free-1), at most throttleMax. One IP is
// throttled the same way after ipFree failures over any usernames, which
// stops password spraying. Entries older than throttleForget are dropped;
// at most throttleEntries are kept (the oldest go first), so the map cannot
// grow without bound.
const (
	throttleFree    = 3
	ipFree          = 20
	throttleBase    = time.Second
	throttleMax     = 15 * time.Minute
	throttleForget  = time.Hour
	throttleEntries = 10000
)

// AdminConfig tunes the dashboard accounts.
type AdminConfig struct {
	// Now is the clock of the login throttle; default time.Now.
	Now func() time.Time
	// HashMemoryKiB and HashPasses set the argon2id cost of new password
	// hashes; 0 means the defaults (19 MiB, 2). Tests lower them to keep
	// suites that start many servers light; never lower them in production.
	HashMemoryKiB, HashPasses uint32
}

// Admins runs the dashboard account use cases. It is separate from App
// because it owns in-memory state (the throttle).
type Admins struct {
	a        *App
	now      func() time.Time
	memKiB   uint32
	passes   uint32
	dummy    func() string // a hash verified for unknown usernames
	mu       sync.Mutex
	failures map[string]*failure // "u:" + username + "|" + ip, or "ip:" + ip
}

type failure struct {
	n    int
	last time.Time
}

// NewAdmins returns the account use cases over a.
func NewAdmins(a *App, cfg AdminConfig) *Admins {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HashMemoryKiB == 0 {
		cfg.HashMemoryKiB = argonMemoryKiB
	}
	if cfg.HashPasses == 0 {
		cfg.HashPasses = argonTime
	}
	ad := &Admins{a: a, now: cfg.Now, memKiB: cfg.HashMemoryKiB, passes: cfg.HashPasses, failures: map[string]*failure{}}
	ad.dummy = sync.OnceValue(func() string { return ad.hash("parley-dummy-password") })
	return ad
}

func (ad *Admins) hash(pw string) string { return hashPasswordCost(pw, ad.memKiB, ad.passes) }

// Session is a logged-in dashboard account.
type Session struct {
	Username string
	// CSRF is the token every form of this session must send back. It is
	// derived from the session id, which only the browser holds, so it is
	// not stored anywhere.
	CSRF      string
	ExpiresAt time.Time
}

// EnsureFirstAdmin creates the account "admin" with a random password when
// no account exists, and returns that password (shown once). It returns ""
// when an account exists already.
func (ad *Admins) EnsureFirstAdmin(ctx context.Context) (string, error) {
	var n int
	if err := ad.a.read(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.CountAdmins(ctx)
		return err
	}); err != nil || n > 0 {
		return "", err // hash nothing on an ordinary start
	}
	pw := randomPassword()
	hash := ad.hash(pw)
	created := false
	err := ad.a.write(ctx, func(tx *store.Tx, _ *effects) error {
		created = false
		n, err := tx.CountAdmins(ctx)
		if err != nil || n > 0 {
			return err // another process made one meanwhile
		}
		created = true
		return tx.UpsertAdmin(ctx, &store.Admin{Username: FirstAdmin, PasswordHash: hash, CreatedAt: tx.Unix()})
	})
	if err != nil || !created {
		return "", err
	}
	return pw, nil
}

// randomPassword is 20 characters from an alphabet without look-alikes
// (about 115 bits).
func randomPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	return pickFrom(alphabet, 20)
}

func pickFrom(alphabet string, n int) string {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < n {
		rand.Read(buf) //nolint:errcheck // never fails
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue // no modulo bias
		}
		b.WriteByte(alphabet[int(buf[0])%len(alphabet)])
	}
	return b.String()
}

// SetAdminPassword sets the password of an account, creating it when it
// does not exist, and ends its sessions.
func (ad *Admins) SetAdminPassword(ctx context.Context, username, password string) error {
	var v chat.Validation
	username = strings.TrimSpace(username)
	if username == "" || utf8.RuneCountInString(username) > maxUsernameLen || strings.ContainsAny(username, " \t\r\n") {
		v.Add("username", "The username must be 1 to %d characters without spaces.", maxUsernameLen)
	}
	switch {
	case utf8.RuneCountInString(password) < minPasswordLen:
		v.Add("password", "The password must have at least %d characters.", minPasswordLen)
	case len(password) > maxPasswordLen:
		v.Add("password", "The password may not be longer than %d bytes.", maxPasswordLen)
	}
	if err := v.Err(); err != nil {
		return err
	}
	hash := ad.hash(password)
	return ad.a.write(ctx, func(tx *store.Tx, _ *effects) error {
		if err := tx.UpsertAdmin(ctx, &store.Admin{Username: username, PasswordHash: hash, CreatedAt: tx.Unix(), UpdatedAt: tx.Unix()}); err != nil {
			return err
		}
		return tx.DeleteAdminSessions(ctx, username)
	})
}

// errBadLogin is the one answer to a wrong username or password: it does
// not tell which was wrong.
var errBadLogin = chat.Errorf(chat.KindUnauthenticated, "ERR_BAD_LOGIN", "The username or password is not correct.")

// LoginInput is what a login form sends, with where it came from.
type LoginInput struct {
	Username  string
	Password  string
	IP        string
	UserAgent string
}

// Login checks a username and password and opens a session. It returns
// the session and the id to put in the browser's cookie. Failed logins are
// throttled per (username, IP) and per IP: while throttled, Login answers
// RateLimited without checking the password.
func (ad *Admins) Login(ctx context.Context, in LoginInput) (*Session, string, error) {
	username := strings.TrimSpace(in.Username)
	if wait := ad.throttled(username, in.IP); wait > 0 {
		return nil, "", chat.Errorf(chat.KindRateLimited, "ERR_TOO_MANY_LOGINS",
			"Too many failed logins. Try again in %s.", wait.Round(time.Second))
	}
	var acct *store.Admin
	err := ad.a.read(ctx, func(tx *store.Tx) error {
		var err error
		acct, err = tx.Admin(ctx, username)
		return err
	})
	if err != nil && chat.KindOf(err) != chat.KindNotFound {
		return nil, "", err
	}
	// An unknown username verifies a dummy hash, so that it costs as much
	// time as a wrong password and timing does not reveal usernames.
	hash := ad.dummy()
	if acct != nil {
		hash = acct.PasswordHash
	}
	if ok := verifyPassword(hash, in.Password); !ok || acct == nil || len(in.Password) > maxPasswordLen {
		ad.fail(username, in.IP)
		return nil, "", errBadLogin
	}
	ad.succeed(username, in.IP)
	id := newSessionID()
	var out *Session
	err = ad.a.write(ctx, func(tx *store.Tx, _ *effects) error {
		now := tx.Unix()
		if err := tx.DeleteExpiredSessions(ctx, now); err != nil {
			return err
		}
		s := &store.Session{IDHash: hashSessionID(id), Username: acct.Username, CreatedAt: now, LastSeenAt: now,
			ExpiresAt: tx.Now.Add(sessionIdle).Unix(), UserAgent: truncate(in.UserAgent, 256), IP: truncate(in.IP, 64)}
		if err := tx.InsertSession(ctx, s); err != nil {
			return err
		}
		out = &Session{Username: acct.Username, CSRF: csrfOf(id), ExpiresAt: time.Unix(s.ExpiresAt, 0)}
		return tx.SetAdminLastLogin(ctx, acct.Username, now)
	})
	if err != nil {
		return nil, "", err
	}
	return out, id, nil
}

// Logout ends the session; an unknown one is not an error.
func (ad *Admins) Logout(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return ad.a.write(ctx, func(tx *store.Tx, _ *effects) error { return tx.DeleteSession(ctx, hashSessionID(id)) })
}

// errNoSession is the answer for a missing, unknown or expired session.
var errNoSession = chat.Errorf(chat.KindUnauthenticated, "ERR_SESSION_NOT_FOUND", "Log in to continue.")

// SessionOf returns the session of a cookie's id, extending it (sliding
// idle expiry, bounded by sessionMax from the login).
func (ad *Admins) SessionOf(ctx context.Context, id string) (*Session, error) {
	if id == "" || len(id) > 128 {
		return nil, errNoSession
	}
	h := hashSessionID(id)
	var s *store.Session
	var now time.Time
	err := ad.a.read(ctx, func(tx *store.Tx) error {
		var err error
		s, err = tx.Session(ctx, h)
		now = tx.Now
		return err
	})
	if chat.KindOf(err) == chat.KindUnauthenticated || err == nil && s.ExpiresAt <= now.Unix() {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	exp := time.Unix(s.ExpiresAt, 0)
	if now.Sub(time.Unix(s.LastSeenAt, 0)) >= sessionTouchEvery {
		exp = now.Add(sessionIdle)
		if limit := time.Unix(s.CreatedAt, 0).Add(sessionMax); exp.After(limit) {
			exp = limit
		}
		if err := ad.a.write(ctx, func(tx *store.Tx, _ *effects) error {
			return tx.TouchSession(ctx, h, tx.Unix(), exp.Unix())
		}); err != nil {
			return nil, err
		}
	}
	return &Session{Username: s.Username, CSRF: csrfOf(id), ExpiresAt: exp}, nil
}

// newSessionID is 32 random bytes, base64url.
func newSessionID() string {
	b := make([]byte, 32)
	rand.Read(b) //nolint:errcheck // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte("parley-session:" + id))
	return hex.EncodeToString(sum[:])
}

// csrfOf derives a session's CSRF token from its id. Different from the
// stored hash (another prefix), so neither reveals the other.
func csrfOf(id string) string {
	sum := sha256.Sum256([]byte("parley-csrf:" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// throttled returns how long the (username, ip) pair or the ip must still
// wait, or 0.
func (ad *Admins) throttled(username, ip string) time.Duration {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	now := ad.now()
	wait := lockFor(ad.failures["u:"+username+"|"+ip], throttleFree, now)
	if w := lockFor(ad.failures["ip:"+ip], ipFree, now); w > wait {
		wait = w
	}
	return wait
}

// lockFor is how long f still locks at now, when more than free failures
// were recorded.
func lockFor(f *failure, free int, now time.Time) time.Duration {
	if f == nil || f.n <= free {
		return 0
	}
	d := throttleBase * time.Duration(math.Pow(2, float64(min(f.n-free-1, 20))))
	d = min(d, throttleMax)
	if rest := f.last.Add(d).Sub(now); rest > 0 {
		return rest
	}
	return 0
}

func (ad *Admins) fail(username, ip string) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	now := ad.now()
	ad.prune(now)
	for _, k := range []string{"u:" + username + "|" + ip, "ip:" + ip} {
		f := ad.failures[k]
		if f == nil {
			f = &failure{}
			ad.failures[k] = f
		}
		f.n++
		f.last = now
	}
}

// succeed forgets the pair's failures (not the IP's: a spraying client
// that guesses one password stays slowed for the others).
func (ad *Admins) succeed(username, ip string) {
	ad.mu.Lock()
	defer ad.mu.Unlock()
	delete(ad.failures, "u:"+username+"|"+ip)
}

// prune drops entries older than throttleForget and, past the size bound,
// the oldest ones. Called with mu held.
func (ad *Admins) prune(now time.Time) {
	for k, f := range ad.failures {
		if now.Sub(f.last) > throttleForget {
			delete(ad.failures, k)
		}
	}
	for len(ad.failures) >= throttleEntries {
		var oldest string
		var at time.Time
		for k, f := range ad.failures {
			if oldest == "" || f.last.Before(at) {
				oldest, at = k, f.last
			}
		}
		delete(ad.failures, oldest)
	}
}
