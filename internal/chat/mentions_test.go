package chat

import (
	"slices"
	"strings"
	"testing"
)

func TestParseMentions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"no mentions here", nil},
		{"hi <@uid:bob>", []string{"bob"}},
		{"<@uid:Bob> and <@uid:bob> and <@uid:BOB>", []string{"bob"}},
		{"<@uid:carol> then <@uid:alice>", []string{"carol", "alice"}},
		{"<@uid:a_b-9>", []string{"a_b-9"}},
		{"<@uid:>", nil},
		{"<@uid:bad uid>", nil},
		{"<@uid: bob>", nil},                  // no spaces inside a token
		{"<@uid:\u212a>", nil},                // the Kelvin sign is not an ASCII k
		{"<@uid:<@uid:bob>", []string{"bob"}}, // a valid token inside garbage
		{"<@uid:bob", nil},
		{"<@UID:bob>", nil}, // the prefix is exact
		{"<@uid:" + strings.Repeat("a", 101) + ">", nil},
	}
	for _, c := range cases {
		if got := ParseMentions(c.text); !slices.Equal(got, c.want) {
			t.Errorf("ParseMentions(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

// FuzzParseMentions checks that mention parsing never panics and that
// every uid it returns is a valid uid, returned once, that appears in the
// text as a <@uid:X> token (X in any ASCII case).
func FuzzParseMentions(f *testing.F) {
	for _, s := range []string{
		"hi <@uid:bob>", "<@uid:Bob><@uid:bob>", "<@uid:<@uid:x>>", "<@uid:a b>", "<@uid: x >",
		"<@uid:\u212a>", "<@uid:", ">><@uid:>", "<@uid:" + strings.Repeat("z", 100) + ">", "\xff<@uid:\xffa>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := ParseMentions(text)
		lower := asciiLower(text)
		seen := map[string]bool{}
		for _, uid := range got {
			if !ValidID(uid) {
				t.Fatalf("ParseMentions(%q) returned the invalid uid %q", text, uid)
			}
			if seen[uid] {
				t.Fatalf("ParseMentions(%q) returned %q twice", text, uid)
			}
			seen[uid] = true
			if !strings.Contains(lower, "<@uid:"+uid+">") {
				t.Fatalf("ParseMentions(%q) returned %q, which is not in the text as <@uid:%s>", text, uid, uid)
			}
		}
	})
}

// asciiLower lower-cases A-Z only, byte by byte.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
