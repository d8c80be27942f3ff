package botkit

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits of a Verifier and its Handler.
const (
	// DefaultTolerance is how far webhook-timestamp may be from the bot's
	// clock, either way, when Verifier.Tolerance is zero. It bounds how long
	// a captured request can be replayed; a bot whose clock is off by more
	// rejects every signed callback with ErrStaleTimestamp.
	DefaultTolerance = 5 * time.Minute

	// MaxBodyBytes bounds a callback body. A bigger body is not read further
	// and is refused with ErrBadPayload. parley's messages are far smaller.
	MaxBodyBytes = 1 << 20

	// secretPrefix starts Standard Webhooks secrets; it is optional.
	secretPrefix = "whsec_"
)

// Errors of Verify. Handler answers 401 to the first three and 400 to
// ErrBadPayload. Check them with errors.Is: Verify wraps them with detail.
var (
	ErrUnauthorized   = errors.New("botkit: missing or wrong basic auth credentials")
	ErrBadSignature   = errors.New("botkit: missing or wrong webhook signature")
	ErrStaleTimestamp = errors.New("botkit: webhook timestamp too far from now")
	ErrBadPayload     = errors.New("botkit: bad callback payload")
)

// Verifier checks that a callback request comes from parley, with the
// credentials configured for the bot. Set Secrets (the bot's "whsec_"
// signing secrets; several while rotating), Username and Password (when the
// bot uses basic auth), or both. A Verifier with neither refuses every
// request unless Insecure is set. A Verifier is not modified by Verify and
// may be shared by concurrent requests.
type Verifier struct {
	// Secrets are the accepted signing secrets. A callback is genuine when
	// its webhook-signature holds a v1 signature made with any of them.
	Secrets []string
	// Username and Password are the expected HTTP Basic credentials; they
	// are checked when Username is not empty.
	Username, Password string
	// Tolerance bounds the difference between webhook-timestamp and Now, in
	// both directions. Zero means DefaultTolerance.
	Tolerance time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Insecure accepts requests when neither Secrets nor Username is set.
	// For local experiments only.
	Insecure bool
}

// Verify checks r (basic auth when Username is set; the Standard Webhooks
// headers and signature when Secrets are set), reads its body (at most
// MaxBodyBytes) and decodes the callback. It returns the decoded callback
// and the raw body. Errors wrap ErrUnauthorized, ErrBadSignature,
// ErrStaleTimestamp or ErrBadPayload; any other error is a mistake in the
// Verifier's configuration (no credentials, a secret that is not base64).
// Verify does not close r.Body.
func (v *Verifier) Verify(r *http.Request) (*Callback, []byte, error) {
	if len(v.Secrets) == 0 && v.Username == "" && !v.Insecure {
		return nil, nil, errors.New("botkit: Verifier has no secrets and no basic auth (set Insecure to accept anything)")
	}
	if v.Username != "" && !v.basicAuthOK(r) {
		return nil, nil, ErrUnauthorized
	}
	var id, sig string
	var ts int64
	if len(v.Secrets) > 0 {
		var err error
		if id, ts, sig, err = v.signatureHeaders(r); err != nil {
			return nil, nil, err
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read body: %w", ErrBadPayload, err)
	}
	if len(body) > MaxBodyBytes {
		return nil, nil, fmt.Errorf("%w: body larger than %d bytes", ErrBadPayload, MaxBodyBytes)
	}
	if len(v.Secrets) > 0 {
		ok, err := verifySignature(v.Secrets, sig, id, ts, body)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, ErrBadSignature
		}
	}
	var cb Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadPayload, err)
	}
	return &cb, body, nil
}

// basicAuthOK compares the credentials in constant time. Both sides are
// hashed first so that the comparison does not reveal their lengths either.
func (v *Verifier) basicAuthOK(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	u1, u2 := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(v.Username))
	p1, p2 := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(v.Password))
	return subtle.ConstantTimeCompare(u1[:], u2[:])&subtle.ConstantTimeCompare(p1[:], p2[:]) == 1
}

// signatureHeaders reads webhook-id, webhook-timestamp and
// webhook-signature, and checks the timestamp against the clock. This runs
// before the body is read, so a stale or unsigned request costs no read.
func (v *Verifier) signatureHeaders(r *http.Request) (id string, ts int64, sig string, err error) {
	id = r.Header.Get("webhook-id")
	sig = r.Header.Get("webhook-signature")
	tsText := r.Header.Get("webhook-timestamp")
	if id == "" || sig == "" || tsText == "" {
		return "", 0, "", fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature are required", ErrBadSignature)
	}
	ts, err = strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return "", 0, "", fmt.Errorf("%w: webhook-timestamp is not a number", ErrBadSignature)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	// Compare in whole seconds, with the tolerance on the clock's side, so
	// that absurd timestamps cannot overflow.
	n, tolS := now().Unix(), int64(tol/time.Second)
	if ts < n-tolS || ts > n+tolS {
		return "", 0, "", fmt.Errorf("%w: timestamp %d, now %d, tolerance %v", ErrStaleTimestamp, ts, n, tol)
	}
	return id, ts, sig, nil
}

// verifySignature reports whether header holds a "v1," signature of
// id.ts.body made with any of secrets, comparing in constant time. Entries
// of other versions and malformed entries are skipped. A secret that does
// not parse is a configuration error, reported rather than skipped, so that
// a typo does not look like forged traffic.
func verifySignature(secrets []string, header, id string, ts int64, body []byte) (bool, error) {
	macs := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
		if err != nil || len(key) == 0 {
			return false, fmt.Errorf("botkit: Verifier.Secrets[%d] is not a whsec_ secret (standard base64)", i)
		}
		h := hmac.New(sha256.New, key)
		_, _ = fmt.Fprintf(h, "%s.%d.", id, ts)
		_, _ = h.Write(body)
		macs = append(macs, h.Sum(nil))
	}
	for _, entry := range strings.Fields(header) {
		b64, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, m := range macs {
			if hmac.Equal(got, m) {
				return true, nil
			}
		}
	}
	return false, nil
}
