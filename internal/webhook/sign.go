package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Signatures follow Standard Webhooks (https://www.standardwebhooks.com):
// the headers webhook-id, webhook-timestamp (Unix seconds) and
// webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256>"
// computed over id + "." + timestamp + "." + body with the key of a
// "whsec_<base64 key>" secret. Any Standard Webhooks library can verify
// what Sign produces.

const (
	// SecretPrefix starts every secret NewSecret makes. ParseSecret accepts
	// secrets with or without it.
	SecretPrefix = "whsec_"

	// signatureVersion prefixes each signature in webhook-signature. Entries
	// with another version are ignored by Verify, so a future scheme can be
	// sent next to v1.
	signatureVersion = "v1,"

	// secretBytes is the key length of new secrets: 192 bits, inside the
	// 24–64 bytes Standard Webhooks recommends.
	secretBytes = 24

	// messageIDPrefix starts every id NewMessageID makes.
	messageIDPrefix = "msg_"
)

// ErrInvalidSecret is wrapped by ParseSecret, Sign and SignAll when a secret
// is empty or not base64.
var ErrInvalidSecret = errors.New("webhook: invalid signing secret")

// NewSecret returns a new random secret: "whsec_" and the standard base64
// of 24 random bytes.
func NewSecret() string {
	key := make([]byte, secretBytes)
	_, _ = rand.Read(key) // never fails (crypto/rand crashes the program instead)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns the key bytes of a secret, with or without the
// "whsec_" prefix. The rest must be standard (padded) base64 of at least
// one byte.
func ParseSecret(s string) ([]byte, error) {
	b64 := strings.TrimPrefix(s, SecretPrefix)
	if b64 == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64 after %q", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: empty key", ErrInvalidSecret)
	}
	return key, nil
}

// Sign returns the v1 signature ("v1,<base64>") of one delivery attempt.
// ts is the webhook-timestamp of the attempt, in Unix seconds.
func Sign(secret string, msgID string, ts int64, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return signatureVersion + base64.StdEncoding.EncodeToString(mac(key, msgID, ts, body)), nil
}

// SignAll returns the webhook-signature header for a bot with several
// active secrets (during a rotation both the old and the new secret sign, so
// the bot can switch at its own pace): the v1 signature for each secret,
// separated by single spaces, in the order given. It fails when secrets is
// empty or any secret is invalid, rather than sending a header that cannot
// verify.
func SignAll(secrets []string, msgID string, ts int64, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("%w: no secret", ErrInvalidSecret)
	}
	sigs := make([]string, 0, len(secrets))
	for i, s := range secrets {
		sig, err := Sign(s, msgID, ts, body)
		if err != nil {
			return "", fmt.Errorf("secret %d: %w", i, err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Verify reports whether header (a webhook-signature value) holds a v1
// signature of (msgID, ts, body) made with any of secrets. Entries of other
// versions, malformed entries and invalid secrets are skipped; comparisons
// are constant-time. Verify does not judge the timestamp's freshness: the
// caller compares ts with its clock before calling.
func Verify(secrets []string, header string, msgID string, ts int64, body []byte) bool {
	var want [][]byte
	for _, s := range secrets {
		if key, err := ParseSecret(s); err == nil {
			want = append(want, mac(key, msgID, ts, body))
		}
	}
	if len(want) == 0 {
		return false
	}
	for _, entry := range strings.Fields(header) {
		b64, ok := strings.CutPrefix(entry, signatureVersion)
		if !ok {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		for _, w := range want {
			if hmac.Equal(got, w) {
				return true
			}
		}
	}
	return false
}

// mac is HMAC-SHA256(key, msgID "." ts "." body).
func mac(key []byte, msgID string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	_, _ = io.WriteString(h, msgID)
	_, _ = io.WriteString(h, ".")
	_, _ = io.WriteString(h, strconv.FormatInt(ts, 10))
	_, _ = io.WriteString(h, ".")
	_, _ = h.Write(body)
	return h.Sum(nil)
}

// NewMessageID returns a new webhook-id: "msg_" and a 26-character ULID (48
// bits of Unix milliseconds, 80 random bits, Crockford base32). Ids sort by
// creation time to the millisecond; two ids made in the same millisecond
// collide with probability 2^-80. The id is made once per delivery and
// stays the same across its retries.
func NewMessageID() string {
	var random [10]byte
	_, _ = rand.Read(random[:]) // never fails
	return messageIDPrefix + ulid(time.Now(), random)
}

// crockford is the ULID alphabet: base32 without I, L, O and U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid encodes the 128 bits (ms since the epoch in 48 bits, then random) as
// 26 base32 characters, most significant first; the 130-bit encoding has two
// leading zero bits, so the first character is 0–7. Times before 1970 or
// after the year 10889 wrap to 48 bits.
func ulid(t time.Time, random [10]byte) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(t.UnixMilli())<<16)
	copy(b[6:], random[:])
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
