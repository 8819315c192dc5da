package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	metaapi "github.com/chatsync/chatsync/provider/meta"
	"github.com/chatsync/chatsync/provider/wa"
	"github.com/chatsync/chatsync/server"
)

const (
	metaPhoneID = "106540352242922"
	metaToken   = "EAAGm0PX4ZCpsBA-test-token"
	metaMsgID   = "wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTM2QjVGQjQ2QzQ2RjE2NjgA"
)

// metaAPI answers as Meta's Cloud API does (POST /{version}/{phone id}/
// messages): the documented success body, or the documented error body
// for a bad token.
type metaAPI struct {
	*httptest.Server
	mu   sync.Mutex
	sent []map[string]any
}

func newMetaAPI(t *testing.T) *metaAPI {
	t.Helper()
	m := &metaAPI{}
	m.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/v21.0/"+metaPhoneID+"/messages" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"Unsupported post request. Object with ID 'x' does not exist","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"A1b2C3"}}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+metaToken {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"AZc5Yb3xQ"}}`)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		m.mu.Lock()
		m.sent = append(m.sent, body)
		m.mu.Unlock()
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q}]}`, body["to"], body["to"], metaMsgID)
	}))
	t.Cleanup(m.Close)
	return m
}

func (m *metaAPI) requests() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.sent...)
}

// createMeta creates a meta_cloud session through the API, so its token is
// sealed as in production.
func createMeta(t *testing.T, e *waEnv, token, accessToken string, backup bool) chatsync.Session {
	t.Helper()
	res, err := e.Clients(token).Session.CreateSession(t.Context(), &chatsyncv1.CreateSessionRequest{
		DisplayName: "Cloud", Provider: chatsyncv1.Provider_PROVIDER_META_CLOUD, Backup: backup,
		MetaCloud: &chatsyncv1.MetaCloudConfig{PhoneNumberId: metaPhoneID, AccessToken: accessToken},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Store.SessionByID(t.Context(), mustParse(t, res.GetSession().GetId()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustParse(t *testing.T, s string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// sendCase is one SendMessage scenario: setup returns the chat to send to.
type sendCase struct {
	name  string
	setup func(t *testing.T, e *waEnv, tn tenant, meta *metaAPI) (chatID int64)
	// want is the answer on success; wantErr the words of an unavailable.
	want    func(tn tenant) *chatsyncv1.SendMessageResponse
	wantErr []string
}

func TestSendMessageSelectsTheProvider(t *testing.T) {
	private := privateChat(1, t0, 0)
	chatOf := func(t *testing.T, e *waEnv, tn tenant, session int, c chatsync.ChatInput) int64 {
		t.Helper()
		return tn.write(t, e.Env, session, c).Chats[0].ID
	}
	answer := func(id string) func(wa.Request) wa.Response {
		return func(req wa.Request) wa.Response {
			if req.Kind != wa.RequestSend || req.Text != "hello there" || req.ChatJID != private.JID {
				return wa.Response{Error: fmt.Sprintf("unexpected request %+v", req)}
			}
			return wa.Response{MessageID: id}
		}
	}
	tests := []sendCase{
		{
			name: "whatsmeow session sends through the process running it",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				e.own(t, tn.sessions[0].ID, answer("3EB0C767D71D1A1C"))
				return chatOf(t, e, tn, 0, private)
			},
			want: func(tn tenant) *chatsyncv1.SendMessageResponse {
				return &chatsyncv1.SendMessageResponse{MessageId: "3EB0C767D71D1A1C", SessionId: id(tn.sessions[0].ID), Provider: chatsyncv1.Provider_PROVIDER_WHATSMEOW}
			},
		},
		{
			name: "meta_cloud session sends through the Cloud API",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				tn.sessions[0] = createMeta(t, e, tn.token, metaToken, false)
				return chatOf(t, e, tn, 0, private)
			},
			want: func(tn tenant) *chatsyncv1.SendMessageResponse {
				return &chatsyncv1.SendMessageResponse{MessageId: metaMsgID, SessionId: id(tn.sessions[0].ID), Provider: chatsyncv1.Provider_PROVIDER_META_CLOUD}
			},
		},
		{
			name: "failover to the backup when the primary fails",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				// The chat's session is Meta with a revoked token; the
				// backup is the whatsmeow session.
				meta := createMeta(t, e, tn.token, "revoked", false)
				tn.sessions[1] = meta
				setBackup(t, e.Env, tn.sessions[0])
				e.own(t, tn.sessions[0].ID, answer("3EB0FAILOVER"))
				return chatOf(t, e, tn, 1, private)
			},
			want: func(tn tenant) *chatsyncv1.SendMessageResponse {
				return &chatsyncv1.SendMessageResponse{MessageId: "3EB0FAILOVER", SessionId: id(tn.sessions[0].ID), Provider: chatsyncv1.Provider_PROVIDER_WHATSMEOW, FailedOver: true}
			},
		},
		{
			name: "failover to a backup whose owner is offline fails too",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				setBackup(t, e.Env, tn.sessions[1])
				e.own(t, tn.sessions[0].ID, func(wa.Request) wa.Response { return wa.Response{Offline: true, Error: "not connected to WhatsApp"} })
				return chatOf(t, e, tn, 0, private)
			},
			wantErr: []string{"whatsmeow (session", "not connected to WhatsApp right now", "webjs (session", "no sidecar is attached"},
		},
		{
			name: "none available: no process runs the session and no backup",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				return chatOf(t, e, tn, 0, private)
			},
			wantErr: []string{"whatsmeow (session", "no process runs the session", "no backup session"},
		},
		{
			name: "Meta's error body is reported",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				tn.sessions[0] = createMeta(t, e, tn.token, "revoked", false)
				return chatOf(t, e, tn, 0, private)
			},
			wantErr: []string{"meta_cloud (session", "Invalid OAuth access token - Cannot parse access token", "OAuthException", "code 190", "fbtrace_id AZc5Yb3xQ", "HTTP 401"},
		},
		{
			name: "a Meta backup cannot reach a group",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				createMeta(t, e, tn.token, metaToken, true)
				return chatOf(t, e, tn, 1, groupChat(7, t0, "Team"))
			},
			wantErr: []string{"webjs (session", "backup meta_cloud", "skipped: only phone numbers are reachable through Meta's Cloud API"},
		},
		{
			name: "webjs session sends through its sidecar",
			setup: func(t *testing.T, e *waEnv, tn tenant, _ *metaAPI) int64 {
				sess := tn.sessions[1]
				sidecar := signedSync(e.Env, sess)
				cs := watchCommands(t, t.Context(), sidecar, id(sess.ID))
				cs.attached(t)
				go func() {
					for m := range cs.msgs {
						send := m.GetCommand().GetSend()
						if send == nil {
							continue
						}
						msgID := "true_" + send.GetChatJid() + "_3EB0WEBJS"
						if send.GetText() != "hello there" {
							msgID = ""
						}
						_, _ = sidecar.CompleteCommand(t.Context(), &chatsyncv1.CompleteCommandRequest{SessionId: id(sess.ID), CommandId: m.GetCommand().GetCommandId(), MessageId: msgID})
					}
				}()
				return chatOf(t, e, tn, 1, private)
			},
			want: func(tn tenant) *chatsyncv1.SendMessageResponse {
				return &chatsyncv1.SendMessageResponse{MessageId: "true_" + private.JID + "_3EB0WEBJS", SessionId: id(tn.sessions[1].ID), Provider: chatsyncv1.Provider_PROVIDER_WEBJS}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta := newMetaAPI(t)
			e := newWAEnv(t, nil, func(p *server.Params) {
				p.Meta = metaapi.NewSender(metaapi.NewClient(meta.URL+"/v21.0", meta.Client()), p.Store, p.Keys.Open, p.SendTimeout)
				p.Heartbeat = time.Second
			})
			tn := newTenant(t, e.Env, "acme", chatsync.ProviderWhatsmeow, chatsync.ProviderWebJS)
			chatID := tt.setup(t, e, tn, meta)
			api := e.Clients(tn.token)
			res, err := api.Chat.SendMessage(t.Context(), &chatsyncv1.SendMessageRequest{ChatId: id(chatID), Text: "hello there"})
			if tt.wantErr != nil {
				if connect.CodeOf(err) != connect.CodeUnavailable {
					t.Fatalf("SendMessage = %v, %v; want unavailable", res, err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), metaToken) || strings.Contains(err.Error(), "revoked") {
					t.Errorf("error reveals a token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			want := tt.want(tn)
			if res.GetMessageId() != want.GetMessageId() || res.GetSessionId() != want.GetSessionId() ||
				res.GetProvider() != want.GetProvider() || res.GetFailedOver() != want.GetFailedOver() {
				t.Fatalf("SendMessage = %v, want %v", res, want)
			}
			checkSentStored(t, e, tn, want)
			if want.GetProvider() == chatsyncv1.Provider_PROVIDER_META_CLOUD {
				reqs := meta.requests()
				if len(reqs) != 1 {
					t.Fatalf("Meta got %d requests", len(reqs))
				}
				r := reqs[0]
				if r["messaging_product"] != "whatsapp" || r["type"] != "text" || r["to"] != "628120000001" ||
					r["text"].(map[string]any)["body"] != "hello there" {
					t.Errorf("Meta request body %v", r)
				}
			}
		})
	}
}

// checkSentStored checks the sent message is in the sending session's chat
// (from_me, with the provider's ID) and was published as message_added.
func checkSentStored(t *testing.T, e *waEnv, tn tenant, want *chatsyncv1.SendMessageResponse) {
	t.Helper()
	var added *chatsync.Message
	for _, ev := range publishedEvents(t, e.Env, tn.ws) {
		if ev.Type == chatsync.EventMessageAdded && ev.Message.WAID == want.GetMessageId() {
			if id(ev.SessionID) != want.GetSessionId() {
				t.Errorf("message_added of session %d, want %s", ev.SessionID, want.GetSessionId())
			}
			added = ev.Message
		}
	}
	if added == nil {
		t.Fatal("no message_added event for the sent message")
	}
	if !added.FromMe || added.Text != "hello there" {
		t.Errorf("event message %+v", added)
	}
	msgs, err := e.Clients(tn.token).Chat.ListMessages(t.Context(), &chatsyncv1.ListMessagesRequest{ChatId: id(added.ChatID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs.GetMessages()) == 0 || msgs.GetMessages()[0].GetId() == "" || !msgs.GetMessages()[0].GetFromMe() || msgs.GetMessages()[0].GetText() != "hello there" {
		t.Errorf("stored messages %v", msgs.GetMessages())
	}
}
