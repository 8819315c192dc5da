package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/signing"
	"github.com/chatsync/chatsync/store"
)

// fakeSecrets knows session 7 of workspace 1.
type fakeSecrets struct{}

func (fakeSecrets) SyncSession(_ context.Context, id int64) (chatsync.Session, []byte, error) {
	if id != 7 {
		return chatsync.Session{}, nil, store.ErrNotFound
	}
	return chatsync.Session{ID: 7, WorkspaceID: 1}, []byte("nonce"), nil
}

// FuzzSignatureHeaders: whatever the signature headers and body, the
// middleware never panics, and admits a call only with the signature of
// session 7's secret over that very body and timestamp.
func FuzzSignatureHeaders(f *testing.F) {
	keys, err := NewKeys([]byte(strings.Repeat("k", 32)))
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_750_000_000, 0)
	secret := keys.SidecarSecret(7, []byte("nonce"))
	good := signing.Sign([]byte(secret), now.Unix(), []byte("{}"))
	f.Add("7", "1750000000", good, []byte("{}"))
	f.Add("7", "1750000000", "v1="+strings.Repeat("0", 64), []byte("{}"))
	f.Add("8", "1750000000", good, []byte("{}"))
	f.Add("", "", "", []byte(nil))
	f.Add("7", "+1750000000", good, []byte("{}"))
	f.Add("007", "1750000000", good, []byte("{}"))
	f.Add("9223372036854775808", "-1", "v1=", []byte("x"))
	f.Fuzz(func(t *testing.T, session, ts, sig string, body []byte) {
		m := &signatureMiddleware{secrets: fakeSecrets{}, keys: keys, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now },
			errw: connect.NewErrorWriter(), maxBody: 1 << 10}
		admitted := false
		h := m.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { admitted = true }))
		req := httptest.NewRequest(http.MethodPost, "/chatsync.v1.SyncService/SyncBatch", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range map[string]string{signing.HeaderSession: session, signing.HeaderTimestamp: ts, signing.HeaderSignature: sig} {
			if v != "" {
				req.Header[k] = []string{v}
			}
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
		if !admitted || !signed(req.Header) {
			return // refused, or not a signed call (the token gate's)
		}
		id, err := strconv.ParseInt(session, 10, 64)
		want := signing.Sign([]byte(secret), now.Unix(), body)
		if err != nil || id != 7 || ts != "1750000000" || sig != want {
			t.Fatalf("admitted session %q, timestamp %q, signature %q; only session 7 with %q at 1750000000 is right", session, ts, sig, want)
		}
	})
}

// FuzzChatFromProto: any SyncChat decodes and validates without a panic,
// and whatever Validate accepts survives the stored payload's JSON round
// trip unchanged (the worker processes what SyncBatch accepted).
func FuzzChatFromProto(f *testing.F) {
	seed := &chatsyncv1.SyncChat{Jid: "15551234567@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: proto.String("Alice"),
		UnreadCount: proto.Int32(2), Messages: []*chatsyncv1.SyncMessage{{Id: "m1", Text: "hi", Waiting: true}}}
	b, _ := proto.Marshal(seed)
	f.Add(b)
	g, _ := proto.Marshal(&chatsyncv1.SyncChat{Jid: "120363041234567890@g.us", Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP,
		Group: &chatsyncv1.SyncGroup{Subject: "T", Participants: []*chatsyncv1.SyncParticipant{{Jid: "1@s.whatsapp.net", Role: 9}}}})
	f.Add(g)
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4<<10 {
			return
		}
		var c chatsyncv1.SyncChat
		if proto.Unmarshal(b, &c) != nil {
			return
		}
		in := chatFromProto(&c)
		if in.Validate(now) != nil {
			return
		}
		raw, err := json.Marshal(chatsync.BatchPayload{Chats: []chatsync.ChatInput{in}})
		if err != nil {
			t.Fatalf("marshal an accepted chat: %v", err)
		}
		var back chatsync.BatchPayload
		if err := json.Unmarshal(raw, &back); err != nil || len(back.Chats) != 1 {
			t.Fatalf("decode the stored payload: %v", err)
		}
		again, _ := json.Marshal(back)
		if string(again) != string(raw) {
			t.Fatalf("the stored payload changes on a round trip:\n%s\n%s", raw, again)
		}
	})
}

// FuzzStoredPayload: any bytes in sync_batches.payload decode into a
// payload or fail cleanly; nothing panics.
func FuzzStoredPayload(f *testing.F) {
	for _, s := range []string{`{}`, `{"chats":[{"jid":"1@s.whatsapp.net","type":"private","unread":0}]}`, `{"chats":null}`, `[]`, `{"chats":[{"unread":"x"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p chatsync.BatchPayload
		if err := json.Unmarshal(b, &p); err != nil {
			var syn *json.SyntaxError
			var typ *json.UnmarshalTypeError
			if !errors.As(err, &syn) && !errors.As(err, &typ) && !strings.Contains(err.Error(), "json") && !strings.Contains(err.Error(), "time") {
				t.Fatalf("unexpected error kind: %v", err)
			}
		}
	})
}
