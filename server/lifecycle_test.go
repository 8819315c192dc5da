package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server/servertest"
)

// The black-box sequence over the API: A1 "one"; A1 edited to
// "two"; A1 revoked. ListMessages shows each state, and a stream opened
// before gets message_updated for the edit and the revoke.
func TestEditAndRevokeOverTheAPI(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS)
	sess := tn.sessions[0]
	api := env.Clients(tn.token)
	s := openStream(t, api, &chatsyncv1.StreamChatUpdatesRequest{})
	sent := time.Now().Add(-time.Hour).Truncate(time.Second)
	edited := sent.Add(time.Minute)
	const jid = "6281200000001@s.whatsapp.net"
	n := 0
	push := func(m *chatsyncv1.SyncMessage) {
		t.Helper()
		n++
		batch := fmt.Sprint("live-", n)
		_, err := signedSync(env, sess).SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{
			SessionId: id(sess.ID), BatchId: batch, Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE,
			Chats: []*chatsyncv1.SyncChat{{Jid: jid, Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Messages: []*chatsyncv1.SyncMessage{m}}},
		})
		if err != nil {
			t.Fatalf("SyncBatch %s: %v", batch, err)
		}
		processBatch(t, env, tn, batch)
	}
	list := func() *chatsyncv1.Message {
		t.Helper()
		chats, err := api.Chat.ListChats(t.Context(), &chatsyncv1.ListChatsRequest{})
		if err != nil || len(chats.GetChats()) != 1 {
			t.Fatalf("ListChats %v, %v", chats, err)
		}
		res, err := api.Chat.ListMessages(t.Context(), &chatsyncv1.ListMessagesRequest{ChatId: chats.GetChats()[0].GetId()})
		if err != nil || len(res.GetMessages()) != 1 {
			t.Fatalf("ListMessages %v, %v", res, err)
		}
		return res.GetMessages()[0]
	}

	push(&chatsyncv1.SyncMessage{Id: "A1", Timestamp: timestamppb.New(sent), Text: "one"})
	if m := list(); m.GetText() != "one" || m.GetEditTime() != nil || m.GetRevoked() {
		t.Fatalf("first %v", m)
	}
	push(&chatsyncv1.SyncMessage{Id: "A1", Timestamp: timestamppb.New(edited), Text: "two", EditTime: timestamppb.New(edited)})
	if m := list(); m.GetText() != "two" || !m.GetEditTime().AsTime().Equal(edited) || !m.GetTimestamp().AsTime().Equal(sent) {
		t.Fatalf("edited %v", m)
	}
	push(&chatsyncv1.SyncMessage{Id: "A1", Timestamp: timestamppb.New(edited), Revoked: true})
	if m := list(); m.GetText() != "" || !m.GetRevoked() {
		t.Fatalf("revoked %v", m)
	}

	var updates []*chatsyncv1.Message
	s.until(t, func(m *chatsyncv1.StreamChatUpdatesResponse) bool {
		if u := m.GetMessageUpdated(); u != nil {
			if u.GetSessionId() != id(sess.ID) {
				t.Errorf("message_updated of session %q", u.GetSessionId())
			}
			updates = append(updates, u.GetMessage())
		}
		return len(updates) == 2
	})
	if updates[0].GetText() != "two" || updates[0].GetEditTime() == nil || !updates[1].GetRevoked() || updates[1].GetText() != "" {
		t.Errorf("message_updated events %v", updates)
	}
}

func TestChangeReportsAreValidated(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	tn := newTenant(t, env, "acme", chatsync.ProviderWebJS)
	sess := tn.sessions[0]
	at := timestamppb.New(time.Now().Add(-time.Minute))
	for i, tt := range []struct {
		name string
		m    *chatsyncv1.SyncMessage
		want string
	}{
		{"reaction without time", &chatsyncv1.SyncMessage{Id: "A1", Timestamp: at, Reactions: []*chatsyncv1.SyncReaction{{Emoji: "👍"}}}, "reactions[0].timestamp: required"},
		{"two reactions of one sender", &chatsyncv1.SyncMessage{Id: "A1", Timestamp: at, Reactions: []*chatsyncv1.SyncReaction{{Emoji: "👍", Timestamp: at}, {Emoji: "👎", Timestamp: at}}}, "reacts twice"},
		{"long emoji", &chatsyncv1.SyncMessage{Id: "A1", Timestamp: at, Reactions: []*chatsyncv1.SyncReaction{{Emoji: strings.Repeat("👍", 20), Timestamp: at}}}, "longer than 64 bytes"},
		{"bad reactor", &chatsyncv1.SyncMessage{Id: "A1", Timestamp: at, Reactions: []*chatsyncv1.SyncReaction{{SenderJid: "nobody", Emoji: "👍", Timestamp: at}}}, "reactions[0].sender_jid"},
		{"edit far ahead", &chatsyncv1.SyncMessage{Id: "A1", Timestamp: at, Text: "x", EditTime: timestamppb.New(time.Now().Add(72 * time.Hour))}, "edit_time: more than a day in the future"},
		{"waiting edit", &chatsyncv1.SyncMessage{Id: "A1", Timestamp: at, Waiting: true, Revoked: true}, "a placeholder cannot also be"},
	} {
		batch := fmt.Sprint("bad-", i)
		t.Run(tt.name, func(t *testing.T) {
			res, err := signedSync(env, sess).SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{
				SessionId: id(sess.ID), BatchId: batch, Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE,
				Chats: []*chatsyncv1.SyncChat{{Jid: "6281200000001@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Messages: []*chatsyncv1.SyncMessage{tt.m}}},
			})
			if err != nil {
				if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("SyncBatch = %v, want invalid_argument with %q", err, tt.want)
				}
				return
			}
			rej := res.GetRejected()
			if len(rej) != 1 || !strings.Contains(rej[0].GetReason(), tt.want) {
				t.Fatalf("rejected %v, want one chat refused with %q", rej, tt.want)
			}
		})
	}
}
