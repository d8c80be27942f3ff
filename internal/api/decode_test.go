package api

import (
	"testing"

	"parley/internal/app"
	"parley/internal/chat"
)

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body  string
		field string // expected field in details, "" for no details
		ok    bool
	}{
		{`{"uid":"a","name":"A"}`, "", true},
		{``, "", true},
		{`   `, "", true},
		{`{"uid":"a","unknown":{"deep":[1,2]}}`, "", true},
		{`{"uid":5}`, "uid", false},
		{`{"tags":"x"}`, "tags", false},
		{`{"withAuthToken":"yes"}`, "withAuthToken", false},
		{`[1]`, "", false},
		{`{"uid":"a"`, "", false},
		{`{"uid":"a"} {"uid":"b"}`, "", false},
		{`{"uid":"a"} x`, "", false},
		{`null`, "", false},
	}
	for _, c := range cases {
		var in app.UserInput
		err := decodeBytes([]byte(c.body), &in)
		if c.ok {
			if err != nil {
				t.Errorf("%q: %v", c.body, err)
			}
			continue
		}
		ce := chat.AsError(err)
		if ce == nil || ce.Kind != chat.KindInvalid || ce.Code != "ERR_BAD_REQUEST" {
			t.Errorf("%q: got %v, want an ERR_BAD_REQUEST", c.body, err)
			continue
		}
		if c.field != "" && len(ce.Details[c.field]) == 0 {
			t.Errorf("%q: details %v lack %q", c.body, ce.Details, c.field)
		}
	}
}

// FuzzDecodeBody checks that no body makes decoding panic or fail with
// anything but a client error.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"uid":"a","name":"b"}`, `{"receiver":"x","receiverType":"user","data":{"text":"hi"}}`,
		`{"parentId":"12"}`, `{"parentId":-1}`, `{"data":{"attachments":[{"url":"http://x/y","size":5}]}}`, `{`, `[]`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []any{&app.UserInput{}, &app.SendInput{}, &app.APIKeyInput{}, &app.TokenInput{}}
		for _, v := range targets {
			if err := decodeBytes(body, v); err != nil {
				if ce := chat.AsError(err); ce == nil || ce.Kind != chat.KindInvalid {
					t.Fatalf("body %q into %T: non-client error %v", body, v, err)
				}
			}
		}
	})
}
