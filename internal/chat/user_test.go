package chat

import (
	"encoding/json"
	"testing"
)

func TestUserPublicDropsPrivateMetadata(t *testing.T) {
	t.Parallel()
	u := &User{UID: "a", Metadata: json.RawMessage(`{"@private":{"email":"a@example.org"},"team":"blue"}`)}
	p := u.Public()
	if string(p.Metadata) != `{"team":"blue"}` {
		t.Fatalf("public metadata %s", p.Metadata)
	}
	if string(u.Metadata) == string(p.Metadata) {
		t.Fatal("Public changed the original")
	}
	only := (&User{UID: "b", Metadata: json.RawMessage(`{"@private":{"x":1}}`)}).Public()
	if only.Metadata != nil {
		t.Fatalf("metadata with only private data: %s", only.Metadata)
	}
	plain := (&User{UID: "c", Metadata: json.RawMessage(`{"k":"v"}`)}).Public()
	if string(plain.Metadata) != `{"k":"v"}` {
		t.Fatalf("plain metadata changed: %s", plain.Metadata)
	}
}
