package webhook

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// signatureVector is one entry of testdata/signatures.json.
//
// The first vector is the example published by Standard Webhooks and Svix.
// The others were computed with OpenSSL, independently of this package, by
// testdata/make-signatures.sh:
//
//	key=$(printf '%s' "$secret_without_prefix" | base64 -d | xxd -p -c 1000)
//	printf '%s.%s.%s' "$msgId" "$timestamp" "$body" |
//		openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | base64
//
// and "v1," prepended.
type signatureVector struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	MsgID     string `json:"msgId"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func loadVectors(t *testing.T) []signatureVector {
	t.Helper()
	b, err := os.ReadFile("testdata/signatures.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []signatureVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 5 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

func TestSignKnownAnswers(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			got, err := Sign(v.Secret, v.MsgID, v.Timestamp, []byte(v.Body))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Signature {
				t.Errorf("Sign = %s, want %s", got, v.Signature)
			}
			if !Verify([]string{v.Secret}, v.Signature, v.MsgID, v.Timestamp, []byte(v.Body)) {
				t.Error("Verify rejects the known signature")
			}
		})
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)[0]
	body := []byte(v.Body)
	other := NewSecret()
	tests := []struct {
		name    string
		secrets []string
		header  string
		id      string
		ts      int64
		body    []byte
		want    bool
	}{
		{"genuine", []string{v.Secret}, v.Signature, v.MsgID, v.Timestamp, body, true},
		{"other secret", []string{other}, v.Signature, v.MsgID, v.Timestamp, body, false},
		{"rotation: other then right", []string{other, v.Secret}, v.Signature, v.MsgID, v.Timestamp, body, true},
		{"invalid secret skipped", []string{"whsec_!!", v.Secret}, v.Signature, v.MsgID, v.Timestamp, body, true},
		{"no secrets", nil, v.Signature, v.MsgID, v.Timestamp, body, false},
		{"body changed", []string{v.Secret}, v.Signature, v.MsgID, v.Timestamp, []byte(`{"test": 2432232315}`), false},
		{"id changed", []string{v.Secret}, v.Signature, v.MsgID + "x", v.Timestamp, body, false},
		{"timestamp changed", []string{v.Secret}, v.Signature, v.MsgID, v.Timestamp + 1, body, false},
		{"empty header", []string{v.Secret}, "", v.MsgID, v.Timestamp, body, false},
		{"among others", []string{v.Secret}, "v1,Zm9v v2,abc " + v.Signature + " v1,", v.MsgID, v.Timestamp, body, true},
		{"extra whitespace", []string{v.Secret}, "  \t" + v.Signature + "  ", v.MsgID, v.Timestamp, body, true},
		{"wrong version", []string{v.Secret}, "v2," + strings.TrimPrefix(v.Signature, "v1,"), v.MsgID, v.Timestamp, body, false},
		{"no version", []string{v.Secret}, strings.TrimPrefix(v.Signature, "v1,"), v.MsgID, v.Timestamp, body, false},
		{"upper-case version", []string{v.Secret}, "V1," + strings.TrimPrefix(v.Signature, "v1,"), v.MsgID, v.Timestamp, body, false},
		{"url base64", []string{v.Secret}, "v1," + base64.URLEncoding.EncodeToString(mustDecode(t, v.Signature)), v.MsgID, v.Timestamp, body, false},
		{"truncated", []string{v.Secret}, v.Signature[:20], v.MsgID, v.Timestamp, body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Verify(tt.secrets, tt.header, tt.id, tt.ts, tt.body); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustDecode(t *testing.T, sig string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sig, "v1,"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignAllRotation(t *testing.T) {
	t.Parallel()
	old, cur := NewSecret(), NewSecret()
	body := []byte(`{"trigger":"after_message"}`)
	header, err := SignAll([]string{old, cur}, "msg_1", 1700000000, body)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(header, " ")
	if len(parts) != 2 {
		t.Fatalf("header %q: want two signatures", header)
	}
	for i, s := range []string{old, cur} {
		want, _ := Sign(s, "msg_1", 1700000000, body)
		if parts[i] != want {
			t.Errorf("signature %d = %s, want %s", i, parts[i], want)
		}
		// A bot that knows only one of the secrets accepts the delivery.
		if !Verify([]string{s}, header, "msg_1", 1700000000, body) {
			t.Errorf("secret %d alone does not verify %q", i, header)
		}
	}
	if Verify([]string{NewSecret()}, header, "msg_1", 1700000000, body) {
		t.Error("an unrelated secret verifies")
	}
	if _, err := SignAll(nil, "msg_1", 1, body); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("SignAll(nil) error = %v, want ErrInvalidSecret", err)
	}
	if _, err := SignAll([]string{cur, "whsec_"}, "msg_1", 1, body); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("SignAll with an empty secret: error = %v, want ErrInvalidSecret", err)
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		wantHex string // empty: an error is expected
	}{
		{"whsec_AQID", "010203"},
		{"AQID", "010203"},
		{"whsec_AQ==", "01"},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "31f290f6bf06298aab4f08d43c3f082cf648a362da2da4b0"},
		{"", ""},
		{"whsec_", ""},
		{"whsec_AQ", ""},       // unpadded
		{"whsec_AQ=", ""},      // badly padded
		{"whsec_a-b_", ""},     // URL alphabet
		{"whsec_ AQID", ""},    // space
		{"WHSEC_AQID", ""},     // prefix is case-sensitive, and "_" is not base64
		{"whsec_whsec_AQ", ""}, // prefix stripped once
	}
	for _, tt := range tests {
		key, err := ParseSecret(tt.in)
		if tt.wantHex == "" {
			if !errors.Is(err, ErrInvalidSecret) {
				t.Errorf("ParseSecret(%q) = %x, %v; want ErrInvalidSecret", tt.in, key, err)
			}
			continue
		}
		if err != nil || hex.EncodeToString(key) != tt.wantHex {
			t.Errorf("ParseSecret(%q) = %x, %v; want %s", tt.in, key, err, tt.wantHex)
		}
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	if !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secret %q lacks the whsec_ prefix", a)
	}
	key, err := ParseSecret(a)
	if err != nil || len(key) != 24 {
		t.Fatalf("ParseSecret(NewSecret()) = %d bytes, %v; want 24 bytes", len(key), err)
	}
}

func TestULIDKnownAnswers(t *testing.T) {
	t.Parallel()
	rnd := func(h string) (r [10]byte) {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 10 {
			t.Fatalf("bad hex %q", h)
		}
		copy(r[:], b)
		return r
	}
	tests := []struct {
		ms     int64
		random string
		want   string
	}{
		{0, "00000000000000000000", "00000000000000000000000000"},
		{1<<48 - 1, "ffffffffffffffffffff", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
		// The example of the ULID specification (github.com/ulid/spec).
		{1469922850259, "d6764c61efb99302bd5b", "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
	}
	for _, tt := range tests {
		if got := ulid(time.UnixMilli(tt.ms), rnd(tt.random)); got != tt.want {
			t.Errorf("ulid(%d, %s) = %s, want %s", tt.ms, tt.random, got, tt.want)
		}
	}
}

func TestNewMessageID(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^msg_[0-7][0-9A-HJKMNP-TV-Z]{25}$`)
	seen := make(map[string]bool)
	before := time.Now().UnixMilli()
	for range 10000 {
		id := NewMessageID()
		if !shape.MatchString(id) {
			t.Fatalf("id %q has the wrong shape", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	// The first ten characters carry the creation time.
	id := NewMessageID()
	lo := ulid(time.UnixMilli(before), [10]byte{})[:10]
	if id[4:14] < lo {
		t.Errorf("id %s sorts before an id made earlier (%s)", id, lo)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte(`{"test": 2432232314}`))
	f.Add("", "", "", int64(0), []byte(nil))
	f.Add("whsec_AQ==", "v1, v1,, ,v1 v1,====", "msg", int64(-1), []byte("x"))
	f.Fuzz(func(t *testing.T, secret, header, id string, ts int64, body []byte) {
		_ = Verify([]string{secret}, header, id, ts, body) // must not panic
		sig, err := Sign(secret, id, ts, body)
		if err != nil {
			return
		}
		if !Verify([]string{secret}, header+" "+sig, id, ts, body) {
			t.Fatalf("Verify rejects Sign's own signature %q", sig)
		}
		if Verify([]string{secret}, sig, id, ts, append(body, 'x')) {
			t.Fatal("Verify accepts a signature of another body")
		}
	})
}
