package wa

import (
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// carried is a live message of the group chat of groupTextMessage whose
// raw content is raw, unwrapped as whatsmeow does before dispatching it.
func carried(t testing.TB, id string, at time.Time, raw *waE2E.Message) *events.Message {
	evt := groupTextMessage(t)
	evt.Info.ID, evt.Info.Timestamp = id, at
	evt.Message, evt.RawMessage = nil, raw
	return evt.UnwrapRaw()
}

// editOf is an edit as WhatsApp sends it: an EditedMessage wrapping a
// MESSAGE_EDIT protocol message that names the original.
func editOf(target, text string, at time.Time) *waE2E.Message {
	return &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Key:           &waCommon.MessageKey{ID: proto.String(target), RemoteJID: proto.String("120363000000000001@g.us")},
		Type:          waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
		EditedMessage: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(text)}},
		TimestampMS:   proto.Int64(at.UnixMilli()),
	}}}}
}

func revokeOf(target string) *waE2E.Message {
	return &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Key: &waCommon.MessageKey{ID: proto.String(target)}, Type: waE2E.ProtocolMessage_REVOKE.Enum(),
	}}
}

func reactionTo(target, emoji string, at time.Time) *waE2E.Message {
	return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
		Key: &waCommon.MessageKey{ID: proto.String(target)}, Text: proto.String(emoji), SenderTimestampMS: proto.Int64(at.UnixMilli()),
	}}
}

func onlyMessage(t *testing.T, evt *events.Message) (chatsync.ChatInput, chatsync.MessageInput) {
	t.Helper()
	p, err := MessageBatch(evt, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertValid(t, p)
	if len(p.Chats) != 1 || len(p.Chats[0].Messages) != 1 {
		t.Fatalf("payload %+v, want one chat with one message", p)
	}
	return p.Chats[0], p.Chats[0].Messages[0]
}

func TestLiveChanges(t *testing.T) {
	t.Parallel()
	const target = "3EB0C0FFEE000001"
	edited := testNow.Add(-30 * time.Second).Truncate(time.Millisecond)

	chat, m := onlyMessage(t, carried(t, "3EB0ED170001", edited, editOf(target, "lunch at 2?", edited)))
	if m.ID != target || m.Text != "lunch at 2?" || m.EditTime == nil || !m.EditTime.Equal(edited) || m.Revoked || !m.IsUpdate() {
		t.Errorf("edit %+v", m)
	}
	if !chat.LastActivity.IsZero() || chat.JID != "120363000000000001@g.us" {
		t.Errorf("an edit moved the chat: %+v", chat)
	}

	_, m = onlyMessage(t, carried(t, "3EB0DE1E0001", edited, revokeOf(target)))
	if m.ID != target || !m.Revoked || m.Text != "" {
		t.Errorf("revoke %+v", m)
	}

	_, m = onlyMessage(t, carried(t, "3EB0AC710001", edited, reactionTo(target, "👍", edited)))
	if m.ID != target || len(m.Reactions) != 1 || m.Reactions[0].Emoji != "👍" || m.Reactions[0].SenderJID != "333333333333333@lid" || !m.Reactions[0].Timestamp.Equal(edited) {
		t.Errorf("reaction %+v", m)
	}

	// My own reaction, removed, in a private chat keyed on the phone.
	mine := fromMeToLID(t)
	mine.Message = reactionTo("3EB0AAAA0001", "", edited)
	chat, m = onlyMessage(t, mine)
	if len(m.Reactions) != 1 || m.Reactions[0].SenderJID != "" || m.Reactions[0].Emoji != "" || chat.Type != chatsync.ChatPrivate {
		t.Errorf("my removed reaction %+v in %+v", m, chat)
	}

	// A reaction from someone else in a private chat names the chat's person.
	theirs := imageMessage(t)
	theirs.Message = reactionTo("3EB0AAAA0002", "❤️", edited)
	chat, m = onlyMessage(t, theirs)
	if m.Reactions[0].SenderJID != chat.JID {
		t.Errorf("reaction sender %q, want the chat %q", m.Reactions[0].SenderJID, chat.JID)
	}
}

func TestHistoryChanges(t *testing.T) {
	t.Parallel()
	const chat = "15551230001@s.whatsapp.net"
	withReactions := webMsg("H1", false, "", ago(3*day), text("see you"))
	withReactions.Message.Reactions = []*waWeb.Reaction{
		{Key: &waCommon.MessageKey{FromMe: proto.Bool(true)}, Text: proto.String("👍"), SenderTimestampMS: proto.Int64(testNow.Add(-2 * day).UnixMilli())},
		{Key: &waCommon.MessageKey{FromMe: proto.Bool(false)}, Text: proto.String("😂"), SenderTimestampMS: proto.Int64(testNow.Add(-2 * day).UnixMilli())},
	}
	revoked := webMsg("H2", false, "", ago(2*day), nil)
	revoked.Message.MessageStubType = waWeb.WebMessageInfo_REVOKE.Enum()
	edit := webMsg("H3E", false, "", ago(day), editOf("H1", "see you soon", testNow.Add(-day)))

	msgs, _ := historyMessages([]*waHistorySync.HistorySyncMsg{withReactions, revoked, edit}, chat, false, time.Time{}, testNow)
	var originals, changes []chatsync.MessageInput
	for _, m := range msgs {
		if m.IsUpdate() {
			changes = append(changes, m)
		} else {
			originals = append(originals, m)
		}
	}
	if len(originals) != 2 || originals[0].ID != "H1" || originals[1].ID != "H2" || originals[1].Text != "" {
		t.Fatalf("messages %+v, want H1 and the revoked H2's stub", originals)
	}
	if msgs[len(msgs)-1].IsUpdate() != true || msgs[0].IsUpdate() {
		t.Errorf("changes are not after the messages: %+v", msgs)
	}
	want := map[string]func(chatsync.MessageInput) bool{
		"revoke H2": func(m chatsync.MessageInput) bool { return m.ID == "H2" && m.Revoked },
		"edit H1": func(m chatsync.MessageInput) bool {
			return m.ID == "H1" && m.Text == "see you soon" && m.EditTime != nil
		},
		"reactions H1": func(m chatsync.MessageInput) bool {
			return m.ID == "H1" && len(m.Reactions) == 2 && m.Reactions[0].SenderJID == "" && m.Reactions[1].SenderJID == chat
		},
	}
	for name, match := range want {
		found := false
		for _, c := range changes {
			found = found || match(c)
		}
		if !found {
			t.Errorf("no %s among %+v", name, changes)
		}
	}
	in := chatsync.ChatInput{JID: chat, Type: chatsync.ChatPrivate, Messages: msgs}
	if err := in.Validate(testNow); err != nil {
		t.Errorf("the chat's report is refused: %v", err)
	}
}

// A live message, its edit, a reaction and its revoke, as whatsmeow
// delivers them, through the Session, the Sink and the worker to the rows.
func TestMessageLifecycleThroughThePipeline(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	s, _ := e.liveSession(t)
	process := e.processor(t)
	orig := imageMessage(t)
	at := orig.Info.Timestamp
	edit := imageMessage(t)
	edit.Info.ID, edit.Message, edit.RawMessage = "3EB0ED170002", nil, editOf(orig.Info.ID, "the new whiteboard", at.Add(time.Minute))
	edit.UnwrapRaw()
	react := imageMessage(t)
	react.Info.ID, react.Message = "3EB0AC710002", reactionTo(orig.Info.ID, "🔥", at.Add(2*time.Minute))

	// The edit arrives first (live before the original's retry).
	for _, evt := range []any{edit, orig, react} {
		if !s.handleEvent(ctx, evt) {
			t.Fatalf("handler failed on %T", evt)
		}
		process()
	}
	chats, err := e.st.ListChats(ctx, store.ChatFilter{WorkspaceID: e.ws}, nil, 50)
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v, %v", chats, err)
	}
	msgs, err := e.st.ListMessages(ctx, e.ws, chats[0].ID, nil, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages %+v, %v", msgs, err)
	}
	m := msgs[0]
	if m.Text != "the new whiteboard" || m.MediaType != chatsync.MediaImage || m.EditTime == nil || len(m.Reactions) != 1 || m.Reactions[0].Emoji != "🔥" {
		t.Errorf("after edit and reaction: %+v", m)
	}
	if chats[0].LastMessagePreview != "the new whiteboard" || chats[0].UnreadCount != 1 {
		t.Errorf("chat %+v", chats[0])
	}

	revoke := imageMessage(t)
	revoke.Info.ID, revoke.Message = "3EB0DE1E0002", revokeOf(orig.Info.ID)
	if !s.handleEvent(ctx, revoke) {
		t.Fatal("handler failed on the revoke")
	}
	process()
	msgs, err = e.st.ListMessages(ctx, e.ws, chats[0].ID, nil, 10)
	if err != nil || len(msgs) != 1 || !msgs[0].Revoked || msgs[0].Text != "" || msgs[0].MediaType != chatsync.MediaNone {
		t.Fatalf("after the revoke %+v, %v", msgs, err)
	}
	var text string
	if err := e.st.DB().NewSelect().Table("messages").Column("text").Where("wa_id = ?", orig.Info.ID).Scan(ctx, &text); err != nil || text != "" {
		t.Errorf("the table holds %q, %v after the revoke", text, err)
	}
}
