package realtime

import (
	"encoding/json"
	"errors"
	"testing"

	"parley/internal/chat"
)

func TestEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ  string
		data any
		want string
	}{
		{"message", map[string]any{"id": "m1", "text": "<hi>"}, `{"type":"message","data":{"id":"m1","text":"<hi>"}}`},
		{"message_deleted", nil, `{"type":"message_deleted","data":null}`},
		{"group_member_action", []int{1, 2}, `{"type":"group_member_action","data":[1,2]}`},
	}
	for _, tt := range tests {
		got, err := Encode(tt.typ, tt.data)
		if err != nil {
			t.Fatalf("Encode(%q): %v", tt.typ, err)
		}
		if string(got) != tt.want {
			t.Errorf("Encode(%q, %v) = %s, want %s", tt.typ, tt.data, got, tt.want)
		}
	}
	if _, err := Encode("message", make(chan int)); err == nil {
		t.Error("Encode of an unmarshalable value succeeded")
	}
}

func TestParseClientFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		wantType string
		wantID   string
		wantData string
		wantErr  bool
	}{
		{in: `{"type":"ping","id":"1"}`, wantType: "ping", wantID: "1"},
		{in: `{"type":"ping"}`, wantType: "ping"},
		{in: `{"type":"message","id":"c1","data": {"text":"hi"} }`, wantType: "message", wantID: "c1", wantData: `{"text":"hi"}`},
		{in: `{"type":"message","data":{},"extra":true}`, wantType: "message", wantData: `{}`},
		{in: `{"type":"message","id":"c1"}`, wantID: "c1", wantErr: true},
		{in: `{"type":"message","id":"c1","data":[]}`, wantID: "c1", wantErr: true},
		{in: `{"type":"message","id":"c1","data":"x"}`, wantID: "c1", wantErr: true},
		{in: `{"type":"message","id":"c1","data":null}`, wantID: "c1", wantErr: true},
		{in: `{"type":"typing","id":"t1"}`, wantID: "t1", wantErr: true},
		{in: `{"id":"t1"}`, wantID: "t1", wantErr: true},
		{in: `{"type":"ping","id":7}`, wantErr: true},
		{in: `{"type":"ping"`, wantErr: true},
		{in: ``, wantErr: true},
		{in: `null`, wantErr: true},
		{in: `"ping"`, wantErr: true},
	}
	for _, tt := range tests {
		f, err := parseClientFrame([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseClientFrame(%s) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if err.Code != "ERR_BAD_REQUEST" || err.Kind != chat.KindInvalid {
				t.Errorf("parseClientFrame(%s) error = %v %q, want KindInvalid ERR_BAD_REQUEST", tt.in, err.Kind, err.Code)
			}
			if f.ID != tt.wantID {
				t.Errorf("parseClientFrame(%s) id = %q, want %q", tt.in, f.ID, tt.wantID)
			}
			continue
		}
		if f.Type != tt.wantType || f.ID != tt.wantID || string(f.Data) != tt.wantData && tt.wantData != "" {
			t.Errorf("parseClientFrame(%s) = %+v, want type %q id %q data %s", tt.in, f, tt.wantType, tt.wantID, tt.wantData)
		}
	}
}

// FuzzParseClientFrame checks that any input is either rejected with an
// ERR_BAD_REQUEST error or yields a frame the hub can handle, and that the
// error reply built for it is valid JSON.
func FuzzParseClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"ping","id":"1"}`,
		`{"type":"message","id":"c1","data":{"text":"hi"}}`,
		`{"type":"message","data":"x"}`,
		`{"type":"\u0000","id":"\ud800"}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, perr := parseClientFrame(b)
		if perr != nil {
			if perr.Code != codeBadRequest {
				t.Fatalf("error code %q, want %q", perr.Code, codeBadRequest)
			}
			if reply := errorReply(fr.ID, perr); !json.Valid(reply) {
				t.Fatalf("error reply is not JSON: %s", reply)
			}
			return
		}
		switch fr.Type {
		case typePing:
		case typeMessage:
			if !json.Valid(fr.Data) || fr.Data[0] != '{' {
				t.Fatalf("message data %q is not a JSON object", fr.Data)
			}
		default:
			t.Fatalf("accepted frame of type %q", fr.Type)
		}
	})
}

func TestErrorReply(t *testing.T) {
	t.Parallel()
	got := string(errorReply("", errors.New("secret")))
	if want := `{"type":"error","error":{"code":"ERR_MISSION_FAILED","message":"internal error"}}`; got != want {
		t.Errorf("errorReply = %s, want %s", got, want)
	}
}
