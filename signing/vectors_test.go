package signing_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/signing"
)

// The vectors are shared with the Go client and the Node sidecar tests; -update
// regenerates them from the inputs below with signing.Sign.
var update = flag.Bool("update", false, "rewrite testdata/signing/vectors.json")

var vectorsPath = filepath.Join("..", "testdata", "signing", "vectors.json")

// vector is one entry of testdata/signing/vectors.json.
type vector struct {
	Name       string `json:"name"`
	Secret     string `json:"secret"`
	SessionID  string `json:"session_id"`
	Timestamp  int64  `json:"timestamp"`
	BodyBase64 string `json:"body_base64"`
	Signature  string `json:"signature"`
}

func (v vector) body(t *testing.T) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v.BodyBase64)
	if err != nil {
		t.Fatalf("vector %s: decode body: %v", v.Name, err)
	}
	return b
}

// vectorInputs are the inputs the file is generated from. Secrets look like
// CreateSession's: 64 lowercase hex characters, used as their UTF-8 bytes.
func vectorInputs(t *testing.T) []vector {
	t.Helper()
	const (
		secretA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		secretB = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	)
	batch := &chatsyncv1.SyncBatchRequest{
		SessionId: "42",
		BatchId:   "run1:0000",
		Kind:      chatsyncv1.BatchKind_BATCH_KIND_HISTORY,
		Chats: []*chatsyncv1.SyncChat{
			{
				Jid:              "15551234567@s.whatsapp.net",
				Type:             chatsyncv1.ChatType_CHAT_TYPE_PRIVATE,
				Name:             new("Alice"),
				UnreadCount:      new(int32(2)),
				LastActivityTime: timestamppb.New(time.Unix(1700000000, 0)),
				Contact:          &chatsyncv1.SyncContact{Phone: "+1 555 123 4567", PushName: "Alice"},
				Messages: []*chatsyncv1.SyncMessage{{
					Id: "3EB0C767D71D2A6C48F1", SenderJid: "15551234567@s.whatsapp.net",
					Timestamp: timestamppb.New(time.Unix(1700000000, 0)), Text: "héllo ✓",
				}},
			},
			{
				Jid:  "120363041234567890@g.us",
				Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP,
				Name: new("Team"),
				Group: &chatsyncv1.SyncGroup{
					Subject: "Team", OwnerJid: "15551234567@s.whatsapp.net",
					Participants: []*chatsyncv1.SyncParticipant{
						{Jid: "15551234567@s.whatsapp.net", Role: chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_SUPERADMIN},
						{Jid: "15557654321@s.whatsapp.net", Role: chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_MEMBER},
					},
				},
			},
		},
	}
	pb, err := proto.MarshalOptions{Deterministic: true}.Marshal(batch)
	if err != nil {
		t.Fatalf("marshal batch: %v", err)
	}
	// gRPC puts a 5-byte prefix (compressed flag, big-endian length) before
	// the message; the signature covers those bytes too.
	grpc := make([]byte, 5, 5+len(pb))
	binary.BigEndian.PutUint32(grpc[1:], uint32(len(pb)))
	grpc = append(grpc, pb...)
	jsonBody := []byte(`{"sessionId":"42","batchId":"run1:0001","kind":"BATCH_KIND_LIVE","chats":[{"jid":"15551234567@s.whatsapp.net","type":"CHAT_TYPE_PRIVATE","messages":[{"id":"ABC","fromMe":true,"timestamp":"2023-11-14T22:13:20Z","text":"hi"}]}]}`)
	jsonBody7 := []byte(`{"sessionId":"7","batchId":"live:ABC","kind":"BATCH_KIND_LIVE","chats":[{"jid":"120363041234567890@g.us","type":"CHAT_TYPE_GROUP","name":"Équipe 👋"}]}`)

	in := []vector{
		{Name: "connect_proto_history_batch", Secret: secretA, SessionID: "42", Timestamp: 1700000000, BodyBase64: b64(pb)},
		{Name: "grpc_framed_history_batch", Secret: secretA, SessionID: "42", Timestamp: 1700000000, BodyBase64: b64(grpc)},
		{Name: "connect_json_live_batch", Secret: secretA, SessionID: "42", Timestamp: 1700000123, BodyBase64: b64(jsonBody)},
		{Name: "empty_body", Secret: secretA, SessionID: "42", Timestamp: 1700000000, BodyBase64: ""},
		{Name: "connect_json_other_secret", Secret: secretB, SessionID: "7", Timestamp: 1700000123, BodyBase64: b64(jsonBody7)},
		{Name: "binary_all_bytes", Secret: secretB, SessionID: "9223372036854775807", Timestamp: 4102444800, BodyBase64: b64(allBytes())},
		{Name: "watch_commands_json", Secret: secretB, SessionID: "7", Timestamp: 1, BodyBase64: b64([]byte(`{"sessionId":"7"}`))},
	}
	return in
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// checkBodySession decodes the bodies that are real requests and checks that
// their session_id agrees with the vector's, as the server demands.
func checkBodySession(t *testing.T, name string, body []byte, sessionID string) {
	t.Helper()
	var got string
	switch {
	case strings.HasPrefix(name, "connect_proto_"):
		var req chatsyncv1.SyncBatchRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Fatalf("decode proto body: %v", err)
		}
		got = req.GetSessionId()
	case strings.HasPrefix(name, "grpc_framed_"):
		if len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
			t.Fatalf("gRPC frame prefix does not match the body length %d", len(body))
		}
		var req chatsyncv1.SyncBatchRequest
		if err := proto.Unmarshal(body[5:], &req); err != nil {
			t.Fatalf("decode gRPC body: %v", err)
		}
		got = req.GetSessionId()
	case strings.HasPrefix(name, "connect_json_"):
		var req chatsyncv1.SyncBatchRequest
		if err := protojson.Unmarshal(body, &req); err != nil {
			t.Fatalf("decode JSON body: %v", err)
		}
		got = req.GetSessionId()
	case strings.HasPrefix(name, "watch_commands_json"):
		var req chatsyncv1.WatchCommandsRequest
		if err := protojson.Unmarshal(body, &req); err != nil {
			t.Fatalf("decode JSON body: %v", err)
		}
		got = req.GetSessionId()
	default:
		return // not a request body
	}
	if got != sessionID {
		t.Errorf("body session_id = %q, want the vector's %q", got, sessionID)
	}
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read vectors (run with -update to create): %v", err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}
	return vs
}

// writeVectors rewrites the vectors file (TestVectors does, under -update).
// The file, not this generator, is the contract: a later protobuf release
// may encode the batch differently, and the committed bytes must not change
// with it.
func writeVectors(t *testing.T) {
	in := vectorInputs(t)
	for i := range in {
		in[i].Signature = signing.Sign([]byte(in[i].Secret), in[i].Timestamp, in[i].body(t))
	}
	want, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatalf("encode vectors: %v", err)
	}
	want = append(want, '\n')
	if err := os.WriteFile(vectorsPath, want, 0o644); err != nil {
		t.Fatalf("write vectors: %v", err)
	}
}

func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t)
	}
	vs := readVectors(t)
	if len(vs) < 6 {
		t.Fatalf("got %d vectors, want at least 6", len(vs))
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			body := v.body(t)
			if got := signing.Sign([]byte(v.Secret), v.Timestamp, body); got != v.Signature {
				t.Errorf("Sign = %s, want %s", got, v.Signature)
			}
			ts := time.Unix(v.Timestamp, 0)
			tsHeader := strconv.FormatInt(v.Timestamp, 10)
			if err := signing.Verify([]byte(v.Secret), tsHeader, v.Signature, body, ts); err != nil {
				t.Errorf("Verify at the vector's timestamp: %v", err)
			}
			if err := signing.Verify([]byte(v.Secret), tsHeader, v.Signature, append(body, 'x'), ts); err == nil {
				t.Error("Verify accepted a changed body")
			}
			checkBodySession(t, v.Name, body, v.SessionID)
		})
	}
}
