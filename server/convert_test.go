package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/store"
)

func TestToConnect(t *testing.T) {
	secret := errors.New("pq: connection refused to 10.0.0.7")
	tests := []struct {
		name string
		err  error
		want connect.Code
	}{
		{"connect error kept", connect.NewError(connect.CodeOutOfRange, errors.New("x")), connect.CodeOutOfRange},
		{"canceled", fmt.Errorf("load: %w", context.Canceled), connect.CodeCanceled},
		{"deadline", fmt.Errorf("load: %w", context.DeadlineExceeded), connect.CodeDeadlineExceeded},
		{"not found", fmt.Errorf("chat 1: %w", store.ErrNotFound), connect.CodeNotFound},
		{"conflict", fmt.Errorf("insert: %w", store.ErrConflict), connect.CodeAlreadyExists},
		{"busy", fmt.Errorf("delete: %w", store.ErrBusy), connect.CodeFailedPrecondition},
		{"not paired", fmt.Errorf("send: %w", chatsync.ErrNotPaired), connect.CodeFailedPrecondition},
		{"provider down", fmt.Errorf("send: %w", chatsync.ErrProviderUnavailable), connect.CodeUnavailable},
		{"internal", secret, connect.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toConnect(tt.err)
			if connect.CodeOf(got) != tt.want {
				t.Fatalf("code = %v, want %v", connect.CodeOf(got), tt.want)
			}
			if strings.Contains(got.Error(), "10.0.0.7") {
				t.Fatalf("internal detail reaches the wire: %v", got)
			}
		})
	}
	if toConnect(nil) != nil {
		t.Fatal("toConnect(nil) is not nil")
	}
	var ie internalError
	if !errors.As(toConnect(secret), &ie) || !errors.Is(ie, secret) || ie.Error() != "internal error" {
		t.Fatal("the cause of an internal error is not kept for the log")
	}
}

// TestEventToProtoSkipsEventsWithoutBody: an event whose body is missing
// (or of a type the server does not know) renders as nothing, never as an
// empty message.
func TestEventToProtoSkipsEventsWithoutBody(t *testing.T) {
	for _, typ := range []chatsync.EventType{
		chatsync.EventChatUpserted, chatsync.EventMessageAdded, chatsync.EventSessionStatus,
		chatsync.EventSyncProgress, chatsync.EventSyncFailed, chatsync.EventMessageUpdated, chatsync.EventChatRemoved, "something_new",
	} {
		if m := eventToProto(chatsync.Event{ID: "1-0", Type: typ, SessionID: 1}); m != nil {
			t.Errorf("%s without a body rendered as %v", typ, m)
		}
	}
}

func TestChatRemovedToProto(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	evs := chatsync.MergedEvents(3, at, []chatsync.ChatMerge{{SessionID: 4, From: 10, Into: 11}})
	if len(evs) != 1 {
		t.Fatalf("events %+v", evs)
	}
	m := eventToProto(evs[0]).GetChatRemoved()
	if m.GetChatId() != "10" || m.GetMergedInto() != "11" || m.GetSessionId() != "4" {
		t.Errorf("chat_removed %v", m)
	}
	gone := eventToProto(chatsync.Event{Type: chatsync.EventChatRemoved, SessionID: 4, Removed: &chatsync.ChatRemovedEvent{ChatID: 10}})
	if gone.GetChatRemoved().GetMergedInto() != "" {
		t.Errorf("a removal without a survivor names %q", gone.GetChatRemoved().GetMergedInto())
	}
}

func TestEnumConversions(t *testing.T) {
	for r, want := range map[chatsyncv1.ParticipantRole]chatsync.Role{
		chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_UNSPECIFIED: chatsync.RoleMember,
		chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_ADMIN:       chatsync.RoleAdmin,
		chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_SUPERADMIN:  chatsync.RoleSuperAdmin,
	} {
		if got := roleFromProto(r); got != want {
			t.Errorf("roleFromProto(%v) = %q, want %q", r, got, want)
		}
	}
	// Numbers the API does not define are refused by validation, per chat.
	m := chatsync.MessageInput{ID: "m1", Timestamp: time.Now(), MediaType: mediaFromProto(chatsyncv1.MediaType(99))}
	c := chatsync.ChatInput{JID: "15551234567@s.whatsapp.net", Type: chatsync.ChatPrivate, Messages: []chatsync.MessageInput{m}}
	if err := c.Validate(time.Now()); err == nil || !strings.Contains(err.Error(), "media_type: \"unknown (99)\" is not a known") {
		t.Errorf("unknown media type: Validate = %v", err)
	}
	g := chatsync.ChatInput{JID: "120363041234567890@g.us", Type: chatsync.ChatGroup, Group: &chatsync.GroupInput{
		Participants: []chatsync.ParticipantInput{{JID: "15551234567@s.whatsapp.net", Role: roleFromProto(chatsyncv1.ParticipantRole(7))}},
	}}
	if err := g.Validate(time.Now()); err == nil || !strings.Contains(err.Error(), "role: unknown") {
		t.Errorf("unknown role: Validate = %v", err)
	}
	if got := providerFromProto(chatsyncv1.Provider_PROVIDER_UNSPECIFIED); got != "" {
		t.Errorf("unspecified provider = %q", got)
	}
	if got := chatTypeFromProto(chatsyncv1.ChatType_CHAT_TYPE_UNSPECIFIED); got != "" {
		t.Errorf("unspecified chat type = %q", got)
	}
	if batchKindFromProto(chatsyncv1.BatchKind_BATCH_KIND_LIVE) != chatsync.BatchLive || batchKindToProto("x") != chatsyncv1.BatchKind_BATCH_KIND_UNSPECIFIED {
		t.Error("batch kind conversions")
	}
}

// A state field the report leaves unset stays unset in the domain, so the
// store keeps the stored value; an explicit zero is a value.
func TestChatFromProtoKeepsPresence(t *testing.T) {
	live := chatFromProto(&chatsyncv1.SyncChat{Jid: "15551234567@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE})
	if live.UnreadCount != nil || live.Archived != nil || live.Pinned != nil || live.Name != "" {
		t.Errorf("unset fields = unread %v, archived %v, pinned %v, name %q; want none", live.UnreadCount, live.Archived, live.Pinned, live.Name)
	}
	history := chatFromProto(&chatsyncv1.SyncChat{
		Jid: "15551234567@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: new("Alice"),
		UnreadCount: new(int32(0)), Archived: new(false), Pinned: new(true),
	})
	if history.UnreadCount == nil || *history.UnreadCount != 0 || history.Archived == nil || *history.Archived ||
		history.Pinned == nil || !*history.Pinned || history.Name != "Alice" {
		t.Errorf("explicit fields = unread %v, archived %v, pinned %v, name %q", history.UnreadCount, history.Archived, history.Pinned, history.Name)
	}
}

// A placeholder travels both ways: SyncMessage.waiting into the domain,
// Message.waiting out of it.
func TestWaitingMessageConversions(t *testing.T) {
	in := chatFromProto(&chatsyncv1.SyncChat{Jid: "15551234567@s.whatsapp.net", Messages: []*chatsyncv1.SyncMessage{{Id: "u1", Waiting: true}, {Id: "m2"}}})
	if !in.Messages[0].Waiting || in.Messages[1].Waiting {
		t.Errorf("messages in = %+v", in.Messages)
	}
	if out := messageToProto(chatsync.Message{WAID: "u1", Waiting: true}); !out.GetWaiting() {
		t.Errorf("message out = %v", out)
	}
}

type failingTokens struct{ err error }

func (f failingTokens) WorkspaceForToken(context.Context, string) (int64, error) { return 0, f.err }

// A transient failure reaches the client as unavailable with a safe
// message; its cause (a database address here) stays for the log.
func TestUnavailableHidesItsCause(t *testing.T) {
	secret := errors.New("dial tcp 10.0.0.7:5432: connection refused")
	h := http.Header{}
	h.Set("Authorization", "Bearer tok")
	_, err := tokenPrincipal(t.Context(), failingTokens{secret}, h)
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || strings.Contains(ce.Message(), "10.0.0.7") || !strings.Contains(ce.Message(), "retry") {
		t.Fatalf("token check during an outage = %v", err)
	}
	var ie internalError
	if !errors.As(err, &ie) || !errors.Is(ie, secret) {
		t.Fatal("the cause is not kept for the log")
	}
	for _, e := range []error{
		unavailable("the rate limiter is unavailable right now; retry", secret),
		toConnect(fmt.Errorf("load: %w", secret)),
	} {
		if strings.Contains(e.Error(), "10.0.0.7") {
			t.Errorf("%v reaches the client", e)
		}
	}
}
