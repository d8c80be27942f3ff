package botkit

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

func readCallback(t *testing.T, name string) (*Callback, []byte) {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var cb Callback
	if err := json.Unmarshal(raw, &cb); err != nil {
		t.Fatal(err)
	}
	return &cb, raw
}

func TestDecodeUserCallback(t *testing.T) {
	t.Parallel()
	cb, _ := readCallback(t, "callback_user.json")
	m := cb.Data
	if cb.Trigger != TriggerAfterMessage || cb.AppID != "app1" || cb.Region != "eu" || cb.ChatAPIVersion != "3.0" ||
		cb.Bot != "helpdesk-bot" || cb.Origin["platform"] != "web" {
		t.Errorf("envelope = %+v", cb)
	}
	if m.ID != "1042" || m.MUID != "_k2x8z1" || m.ConversationID != "alice_user_helpdesk-bot" || m.Sender != "alice" ||
		m.ReceiverType != "user" || m.Receiver != "helpdesk-bot" || m.Category != "message" || m.Type != "text" ||
		m.SentAt != 1763472100 || m.UpdatedAt != 1763472101 || m.ParentID != "" || m.IsGroup() {
		t.Errorf("message = %+v", m)
	}
	if m.Data.Text != "where is my order?" || string(m.Data.Metadata) != `{"orderHint": 77}` {
		t.Errorf("data = %+v", m.Data)
	}
	sender, err := m.Data.Entities.Sender.User()
	if err != nil || sender.UID != "alice" || sender.Name != "Alice" || sender.Status != "available" {
		t.Errorf("sender entity = %+v, %v", sender, err)
	}
	receiver, err := m.Data.Entities.Receiver.User()
	if err != nil || receiver.UID != "helpdesk-bot" || receiver.ConversationID != "alice_user_helpdesk-bot" {
		t.Errorf("receiver entity = %+v, %v", receiver, err)
	}
	if _, err := m.Data.Entities.Receiver.Group(); err == nil {
		t.Error("a user entity decodes as a group")
	}
}

func TestDecodeGroupThreadCallback(t *testing.T) {
	t.Parallel()
	cb, _ := readCallback(t, "callback_group_thread.json")
	m := cb.Data
	if !m.IsGroup() || m.Receiver != "support" || m.ParentID != "2001" || !slices.Equal(m.Tags, []string{"urgent"}) || m.Type != "image" {
		t.Errorf("message = %+v", m)
	}
	if len(m.Data.Attachments) != 1 || m.Data.Attachments[0].URL != "https://files.example/s.png" ||
		string(m.Data.Attachments[0].Size) != `"48213"` {
		t.Errorf("attachments = %+v", m.Data.Attachments)
	}
	g, err := m.Data.Entities.Receiver.Group()
	if err != nil || g.GUID != "support" || g.MembersCount != 5 || g.Type != "public" || g.ConversationID != "group_support" {
		t.Errorf("group entity = %+v, %v", g, err)
	}
	if _, err := m.Data.Entities.Receiver.User(); err == nil {
		t.Error("a group entity decodes as a user")
	}
}

func TestEntityErrors(t *testing.T) {
	t.Parallel()
	var missing *Entity
	if _, err := missing.User(); err == nil {
		t.Error("nil entity decodes")
	}
	if _, err := (&Entity{EntityType: "user"}).User(); err == nil {
		t.Error("empty entity decodes")
	}
	if _, err := (&Entity{Entity: json.RawMessage(`[1]`), EntityType: "user"}).User(); err == nil {
		t.Error("an array decodes as a user")
	}
	if u, err := (&Entity{Entity: json.RawMessage(`{"uid":"x"}`), EntityType: "USER"}).User(); err != nil || u.UID != "x" {
		t.Errorf("upper-case entity type: %+v, %v", u, err)
	}
}

func TestCallbackRoundTrip(t *testing.T) {
	t.Parallel()
	cb, _ := readCallback(t, "callback_group_thread.json")
	out, err := json.Marshal(cb)
	if err != nil {
		t.Fatal(err)
	}
	var again Callback
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	out2, _ := json.Marshal(&again)
	if string(out) != string(out2) {
		t.Errorf("round trip differs:\n%s\n%s", out, out2)
	}
}
