package botkit

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	// Only tests import parley's internals: they check that botkit accepts
	// exactly what parley's delivery engine signs.
	"parley/internal/webhook"
)

var testNow = time.Unix(1_763_472_100, 0)

func fixedClock() time.Time { return testNow }

// delivery describes a callback request as parley would send it.
type delivery struct {
	body     []byte
	secrets  []string // sign with these (parley's signer); nil: no signature headers
	id       string
	ts       int64
	user     string // basic auth when not empty
	pass     string
	override map[string]string // header values that replace the computed ones
}

func (d delivery) request(t *testing.T) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/bot", bytes.NewReader(d.body))
	r.Header.Set("Content-Type", "application/json")
	if d.secrets != nil {
		sig, err := webhook.SignAll(d.secrets, d.id, d.ts, d.body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("webhook-id", d.id)
		r.Header.Set("webhook-timestamp", strconv.FormatInt(d.ts, 10))
		r.Header.Set("webhook-signature", sig)
	}
	if d.user != "" {
		r.SetBasicAuth(d.user, d.pass)
	}
	for k, v := range d.override {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	return r
}

func userCallback(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/callback_user.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerify(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := webhook.NewSecret(), webhook.NewSecret()
	body := userCallback(t)
	ts := testNow.Unix()
	signed := func(secrets ...string) delivery {
		return delivery{body: body, secrets: secrets, id: "msg_01JD4ZQK8M2V6X3N5P7R9T1W3Y", ts: ts}
	}
	with := func(d delivery, f func(*delivery)) delivery { f(&d); return d }
	sigOnly := Verifier{Secrets: []string{newSecret}, Now: fixedClock}
	rotating := Verifier{Secrets: []string{oldSecret, newSecret}, Now: fixedClock}
	basicOnly := Verifier{Username: "parley", Password: "s3cret", Now: fixedClock}
	both := Verifier{Secrets: []string{newSecret}, Username: "parley", Password: "s3cret", Now: fixedClock}

	tests := []struct {
		name    string
		v       Verifier
		d       delivery
		wantErr error // nil: accepted
	}{
		{"good signature", sigOnly, signed(newSecret), nil},
		{"signature with another secret", sigOnly, signed(webhook.NewSecret()), ErrBadSignature},
		{"signature without the whsec_ prefix in the verifier", Verifier{Secrets: []string{strings.TrimPrefix(newSecret, "whsec_")}, Now: fixedClock}, signed(newSecret), nil},
		{"body changed", sigOnly, with(signed(newSecret), func(d *delivery) {
			d.override = map[string]string{"webhook-signature": mustSign(t, newSecret, d.id, d.ts, []byte("{}"))}
		}), ErrBadSignature},
		{"id changed", sigOnly, with(signed(newSecret), func(d *delivery) { d.override = map[string]string{"webhook-id": "msg_other"} }), ErrBadSignature},
		{"timestamp changed", sigOnly, with(signed(newSecret), func(d *delivery) {
			d.override = map[string]string{"webhook-timestamp": strconv.FormatInt(ts-1, 10)}
		}), ErrBadSignature},
		{"missing signature", sigOnly, with(signed(newSecret), func(d *delivery) { d.override = map[string]string{"webhook-signature": ""} }), ErrBadSignature},
		{"missing id", sigOnly, with(signed(newSecret), func(d *delivery) { d.override = map[string]string{"webhook-id": ""} }), ErrBadSignature},
		{"missing timestamp", sigOnly, with(signed(newSecret), func(d *delivery) { d.override = map[string]string{"webhook-timestamp": ""} }), ErrBadSignature},
		{"timestamp not a number", sigOnly, with(signed(newSecret), func(d *delivery) { d.override = map[string]string{"webhook-timestamp": "soon"} }), ErrBadSignature},
		{"no headers at all", sigOnly, delivery{body: body}, ErrBadSignature},
		{"stale: 6 minutes old", sigOnly, with(signed(newSecret), func(d *delivery) { d.ts = ts - 360 }), ErrStaleTimestamp},
		{"stale: 6 minutes ahead", sigOnly, with(signed(newSecret), func(d *delivery) { d.ts = ts + 360 }), ErrStaleTimestamp},
		{"fresh: 5 minutes old", sigOnly, with(signed(newSecret), func(d *delivery) { d.ts = ts - 300 }), nil},
		{"fresh: 5 minutes ahead", sigOnly, with(signed(newSecret), func(d *delivery) { d.ts = ts + 300 }), nil},
		{"custom tolerance", Verifier{Secrets: []string{newSecret}, Now: fixedClock, Tolerance: 10 * time.Second},
			with(signed(newSecret), func(d *delivery) { d.ts = ts - 11 }), ErrStaleTimestamp},
		{"extreme timestamp", sigOnly, with(signed(newSecret), func(d *delivery) { d.ts = -1 << 63 }), ErrStaleTimestamp},
		{"rotation: old secret signs, verifier has both", rotating, signed(oldSecret), nil},
		{"rotation: new secret signs, verifier has both", rotating, signed(newSecret), nil},
		{"rotation: parley sends both, verifier has the new one", sigOnly, signed(oldSecret, newSecret), nil},
		{"rotation: parley sends both, verifier has the old one", Verifier{Secrets: []string{oldSecret}, Now: fixedClock}, signed(oldSecret, newSecret), nil},
		{"good basic auth", basicOnly, delivery{body: body, user: "parley", pass: "s3cret"}, nil},
		{"wrong password", basicOnly, delivery{body: body, user: "parley", pass: "s3cret!"}, ErrUnauthorized},
		{"wrong user", basicOnly, delivery{body: body, user: "parle", pass: "s3cret"}, ErrUnauthorized},
		{"no basic auth", basicOnly, delivery{body: body}, ErrUnauthorized},
		{"basic auth and signature", both, with(signed(newSecret), func(d *delivery) { d.user, d.pass = "parley", "s3cret" }), nil},
		{"signature but no basic auth", both, signed(newSecret), ErrUnauthorized},
		{"basic auth but bad signature", both, with(signed(oldSecret), func(d *delivery) { d.user, d.pass = "parley", "s3cret" }), ErrBadSignature},
		{"not JSON", basicOnly, delivery{body: []byte("hello"), user: "parley", pass: "s3cret"}, ErrBadPayload},
		{"wrong JSON shape", basicOnly, delivery{body: []byte(`{"data": "text"}`), user: "parley", pass: "s3cret"}, ErrBadPayload},
		{"body too large", basicOnly, delivery{body: bytes.Repeat([]byte(" "), MaxBodyBytes+1), user: "parley", pass: "s3cret"}, ErrBadPayload},
		{"insecure accepts anything", Verifier{Insecure: true}, delivery{body: body}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cb, raw, err := tt.v.Verify(tt.d.request(t))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !bytes.Equal(raw, tt.d.body) {
				t.Error("raw body differs from the body sent")
			}
			if cb.Data.ID != "1042" || cb.Bot != "helpdesk-bot" || cb.Data.Data.Text != "where is my order?" {
				t.Errorf("callback = %+v", cb)
			}
		})
	}
}

func mustSign(t *testing.T, secret, id string, ts int64, body []byte) string {
	t.Helper()
	s, err := webhook.Sign(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyMisconfigured(t *testing.T) {
	t.Parallel()
	body := userCallback(t)
	d := delivery{body: body, secrets: []string{webhook.NewSecret()}, id: "msg_1", ts: testNow.Unix()}
	sentinels := []error{ErrUnauthorized, ErrBadSignature, ErrStaleTimestamp, ErrBadPayload}
	for name, v := range map[string]Verifier{
		"no credentials":    {Now: fixedClock},
		"secret not base64": {Secrets: []string{"whsec_not base64!"}, Now: fixedClock},
		"empty secret":      {Secrets: []string{"whsec_"}, Now: fixedClock},
	} {
		_, _, err := v.Verify(d.request(t))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				t.Errorf("%s: error %v looks like a bad request (%v), want a configuration error", name, err, s)
			}
		}
	}
}

// TestVerifyPublishedVector checks botkit's own HMAC code against the
// Standard Webhooks example, independently of parley's signer.
func TestVerifyPublishedVector(t *testing.T) {
	t.Parallel()
	body := []byte(`{"test": 2432232314}`)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	r.Header.Set("webhook-timestamp", "1614265330")
	r.Header.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	v := Verifier{
		Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		Now:     func() time.Time { return time.Unix(1614265330, 0) },
	}
	if _, _, err := v.Verify(r); err != nil {
		t.Fatalf("Verify rejects the published example: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	f.Add("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`), "parley", "pw")
	f.Add("", "", "", []byte(nil), "", "")
	f.Add("x", "-9223372036854775808", "v1, v1,,, v2,abc", []byte(`{"data":{"id":1}}`), "a:b", "c")
	f.Add("x", "99999999999999999999", "v1,====", []byte(`[`), "", "")
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, user, pass string) {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("webhook-id", id)
		r.Header.Set("webhook-timestamp", ts)
		r.Header.Set("webhook-signature", sig)
		r.SetBasicAuth(user, pass)
		v := Verifier{Secrets: []string{secret}, Username: "parley", Password: "pw", Now: func() time.Time { return time.Unix(1614265330, 0) }}
		cb, raw, err := v.Verify(r) // must not panic
		if err == nil && (cb == nil || !bytes.Equal(raw, body)) {
			t.Fatalf("accepted without a callback or with another body")
		}
		if err == nil && !webhook.Verify([]string{secret}, sig, id, mustAtoi(t, ts), body) {
			t.Fatalf("botkit accepts a signature parley's verifier rejects: id %q ts %q sig %q", id, ts, sig)
		}
	})
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("accepted timestamp %q: %v", s, err)
	}
	return n
}
