package app

import (
	"encoding/json"
	"testing"

	"parley/internal/chat"
)

func TestDraftErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body string
		code string // "" = valid
	}{
		{`{"data":{"text":"hi"}}`, ""},
		{`{"category":"MESSAGE","type":"Text","data":{"text":"hi"}}`, ""},
		{`{"data":{}}`, "ERR_EMPTY_MESSAGE_TEXT"},
		{`{"data":{"text":5}}`, "ERR_INVALID_MESSAGE_TEXT"},
		{`{"category":"nope","data":{"text":"x"}}`, "ERR_INVALID_MESSAGE_CATEGORY"},
		{`{"type":"sticker","data":{"text":"x"}}`, "ERR_INVALID_MESSAGE_TYPE"},
		{`{"data":{"text":"x","metadata":[1]}}`, "ERR_INVALID_METADATA"},
		{`{"data":"text"}`, "ERR_INVALID_MESSAGE_DATA"},
		{`{"type":"image","data":{}}`, "ERR_INVALID_MESSAGE_DATA"},
		{`{"type":"image","data":{"attachments":[{"url":"not a url"}]}}`, "ERR_INVALID_MESSAGE_DATA"},
		{`{"type":"image","data":{"attachments":[{"url":"https://x.example/a.png","size":"12"}]}}`, ""},
		{`{"category":"custom","data":{"customData":{"a":1}}}`, "ERR_EMPTY_MESSAGE_TYPE"},
		{`{"category":"custom","type":"location","data":{}}`, "ERR_EMPTY_CUSTOM_DATA"},
		{`{"category":"custom","type":"location","data":{"customData":"x"}}`, "ERR_INVALID_CUSTOM_DATA"},
		{`{"category":"custom","type":"location","data":{"customData":{"lat":1}}}`, ""},
		{`{"data":{"text":"x"},"tags":["` + string(make([]byte, 0)) + `"]}`, "ERR_BAD_REQUEST"},
	}
	for _, c := range cases {
		var in SendInput
		if err := json.Unmarshal([]byte(c.body), &in); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		_, err := in.draft()
		got := ""
		if ce := chat.AsError(err); ce != nil {
			got = ce.Code
		} else if err != nil {
			got = "non-domain error: " + err.Error()
		}
		if got != c.code {
			t.Errorf("%s: got %q, want %q", c.body, got, c.code)
		}
	}
}

func TestDraftParsesMentions(t *testing.T) {
	t.Parallel()
	in := SendInput{Data: json.RawMessage(`{"text":"hey <@uid:Bob> and <@uid:carol>, again <@uid:bob>"}`)}
	m, err := in.draft()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Mentions) != 2 || m.Mentions[0] != "bob" || m.Mentions[1] != "carol" {
		t.Fatalf("mentions %v", m.Mentions)
	}
}

// FuzzDraft checks that no send body makes validation panic or return a
// non-client error.
func FuzzDraft(f *testing.F) {
	for _, s := range []string{`{"data":{"text":"hi"}}`, `{"category":"custom","type":"x","data":{"customData":{}}}`,
		`{"type":"file","data":{"attachments":[{"url":"https://a/b","size":1}]}}`, `{"category":"interactive","type":"form","data":{"interactiveData":{}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in SendInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		m, err := in.draft()
		if err != nil {
			if ce := chat.AsError(err); ce == nil || ce.Kind != chat.KindInvalid {
				t.Fatalf("%q: non-client error %v", body, err)
			}
			return
		}
		if m.Category == "" || m.Type == "" {
			t.Fatalf("%q: valid draft without category or type: %+v", body, m)
		}
	})
}
