package wa

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
	evpkg "github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

// TestEventsThroughThePipelineToRows runs whatsmeow events built from its
// real types through a Session with the production Sink, then the worker's
// batch processing, and checks the rows in PostgreSQL: a history sync with
// private (phone and LID) and group conversations, a live group message,
// and a membership change.
func TestEventsThroughThePipelineToRows(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	sess := e.session(t, "Phone")
	cli := whatsmeow.NewClient(e.devices.NewDevice(), Logger(discardLogger()))
	s, err := NewSession(SessionParams{
		ID: sess.ID, Client: cli, Batches: e.sink, Status: e.sink, History: e.sink, Logger: discardLogger(),
		SyncConfig: chatsync.SyncConfig{SyncWindowDays: 30}, Now: fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.groups = &fakeGroups{GetGroupInfoFn: func(context.Context, types.JID) (*types.GroupInfo, error) { return teamGroup(t), nil }}
	process := e.processor(t)

	for _, evt := range []any{historyEvent(), groupTextMessage(t)} {
		if !s.handleEvent(ctx, evt) {
			t.Fatalf("handler failed on %T", evt)
		}
	}
	process()
	chats, err := e.st.ListChats(ctx, store.ChatFilter{WorkspaceID: e.ws}, nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	byJID := map[string]chatsync.ChatView{}
	for _, c := range chats {
		byJID[c.JID] = c
	}
	alice, lidChat, team := byJID["15551230001@s.whatsapp.net"], byJID["15551230002@s.whatsapp.net"], byJID["120363000000000001@g.us"]
	if alice.ID == 0 || alice.Name != "Alice" || alice.ContactName != "Alice A." || alice.UnreadCount != 2 || !alice.Pinned {
		t.Errorf("private chat %+v", alice)
	}
	if lidChat.ID == 0 || !lidChat.Archived {
		t.Errorf("LID-addressed chat, keyed on its phone: %+v", lidChat)
	}
	if _, ok := byJID["120363000000000002@g.us"]; ok {
		t.Error("a group outside the sync window was synced")
	}
	if team.ID == 0 || team.Type != chatsync.ChatGroup || team.Name != "Team" || team.LastMessagePreview != "lunch at 1?" {
		t.Fatalf("group %+v", team)
	}
	msgs, err := e.st.ListMessages(ctx, e.ws, alice.ID, nil, 50)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.WAID)
	}
	if !slices.Equal(ids, []string{"A3", "A2"}) { // newest first; the reaction and the old one are not messages here
		t.Errorf("messages of the private chat %v", ids)
	}
	groupMsgs, err := e.st.ListMessages(ctx, e.ws, team.ID, nil, 50)
	if err != nil || len(groupMsgs) == 0 || groupMsgs[0].WAID != "3EB0C0FFEE000001" || groupMsgs[0].Text != "lunch at 1?" {
		t.Fatalf("group messages %+v, %v", groupMsgs, err)
	}
	members := func() map[string]chatsync.Role {
		t.Helper()
		ps, err := e.st.Participants(ctx, e.ws, team.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]chatsync.Role{}
		for _, p := range ps {
			out[p.JID] = p.Role
		}
		return out
	}
	before := members()
	if len(before) != 3 {
		t.Fatalf("members after the live message (full list from GetGroupInfo): %v", before)
	}

	// A member leaves: a membership change batch.
	change := &events.GroupInfo{JID: mustJID(t, "120363000000000001@g.us"), Timestamp: testNow, Leave: []types.JID{mustJID(t, "444444444444444@lid")}}
	if !s.handleEvent(ctx, change) {
		t.Fatal("handler failed on the group change")
	}
	process()
	after := members()
	if len(after) != len(before)-1 {
		t.Errorf("members after a leave: %v (before %v)", after, before)
	}
	for jid := range after {
		if jid == "444444444444444@lid" {
			t.Error("the member who left is still listed")
		}
	}
	if got, _ := e.st.SessionByID(ctx, sess.ID); got.SyncStatus != chatsync.SyncSynced || got.TotalSynced == 0 {
		t.Errorf("session after processing %+v", got)
	}
}

// processor returns a function that processes the pending batches of the
// env's store with the worker's real processor.
// liveSession is a session "Phone" of the env's workspace run by a Session
// with the production Sink and no sync window.
func (e *env) liveSession(t *testing.T) (*Session, chatsync.Session) {
	t.Helper()
	sess := e.session(t, "Phone")
	cli := whatsmeow.NewClient(e.devices.NewDevice(), Logger(discardLogger()))
	s, err := NewSession(SessionParams{ID: sess.ID, Client: cli, Batches: e.sink, Status: e.sink, History: e.sink, Logger: discardLogger(), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return s, sess
}

func (e *env) processor(t *testing.T) func() {
	t.Helper()
	ctx := t.Context()
	proc, err := worker.NewProcessor(worker.Params{Store: e.st, Publisher: evpkg.NewPublisher(e.rdb, 100), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		pending, err := e.st.PendingBatches(ctx, time.Now().Add(time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range pending {
			task, err := tasks.NewSyncBatchTask(b.PK, b.Kind)
			if err != nil {
				t.Fatal(err)
			}
			if err := proc.HandleSyncBatch(ctx, task); err != nil {
				t.Fatalf("batch %d: %v", b.PK, err)
			}
		}
	}
}

// TestUndecryptableMessageWaitsForItsContent: whatsmeow's
// events.UndecryptableMessage lands as a placeholder (counted as unread and
// in the session's waiting messages); the message whatsmeow's retry brings,
// an events.Message with the same ID, replaces it; a message WhatsApp asks
// to hide lands nowhere.
func TestUndecryptableMessageWaitsForItsContent(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	s, sess := e.liveSession(t)
	process := e.processor(t)
	real := imageMessage(t)
	undecryptable := &events.UndecryptableMessage{Info: real.Info}
	hidden := &events.UndecryptableMessage{Info: fromMeToLID(t).Info, DecryptFailMode: events.DecryptFailHide}
	for _, evt := range []any{undecryptable, hidden} {
		if !s.handleEvent(ctx, evt) {
			t.Fatalf("handler failed on %T", evt)
		}
	}
	process()
	chats, err := e.st.ListChats(ctx, store.ChatFilter{WorkspaceID: e.ws}, nil, 50)
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v, %v; want only the undecryptable message's chat", chats, err)
	}
	chat := chats[0]
	msgs, err := e.st.ListMessages(ctx, e.ws, chat.ID, nil, 10)
	if err != nil || len(msgs) != 1 || !msgs[0].Waiting || msgs[0].WAID != real.Info.ID || msgs[0].Text != "" {
		t.Fatalf("messages %+v, %v; want one placeholder", msgs, err)
	}
	if chat.UnreadCount != 1 || chat.LastMessagePreview != "[waiting for this message]" {
		t.Errorf("chat with a placeholder %+v", chat)
	}
	if n, err := e.st.WaitingMessages(ctx, sess.ID); err != nil || n != 1 {
		t.Errorf("waiting messages = %d, %v; want 1", n, err)
	}

	if !s.handleEvent(ctx, real) {
		t.Fatal("handler failed on the retried message")
	}
	process()
	msgs, err = e.st.ListMessages(ctx, e.ws, chat.ID, nil, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Waiting || msgs[0].Text != "the whiteboard" || msgs[0].MediaType != chatsync.MediaImage {
		t.Fatalf("messages after the retry %+v, %v; want the image in place of the placeholder", msgs, err)
	}
	got, err := e.st.Chat(ctx, e.ws, chat.ID)
	if err != nil || got.UnreadCount != 1 || got.LastMessagePreview != "the whiteboard" {
		t.Errorf("chat after the retry %+v, %v; want unread 1 (counted once) and the caption", got, err)
	}
	if n, err := e.st.WaitingMessages(ctx, sess.ID); err != nil || n != 0 {
		t.Errorf("waiting messages = %d, %v; want 0", n, err)
	}
}

// A member is one member under either address through the whole pipeline:
// the group as whatsmeow describes it (members with LID and phone), then a
// leave by LID of a member stored by phone and a promote by phone of a
// member stored by LID only, whose phone the LID table learned since.
func TestGroupMembersByEitherAddressThroughThePipeline(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	s, _ := e.liveSession(t)
	lids := sqliteContainer(t).LIDMap
	s.lids = lids
	process := e.processor(t)
	members := func() (int32, []string) {
		t.Helper()
		chats, err := e.st.ListChats(ctx, store.ChatFilter{WorkspaceID: e.ws, Type: chatsync.ChatGroup}, nil, 5)
		if err != nil || len(chats) != 1 {
			t.Fatalf("groups %+v, %v", chats, err)
		}
		ps, err := e.st.Participants(ctx, e.ws, chats[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		var jids []string
		for _, p := range ps {
			jids = append(jids, p.JID+"/"+string(p.Role))
		}
		slices.Sort(jids)
		return chats[0].ParticipantCount, jids
	}
	if !s.handleEvent(ctx, &events.JoinedGroup{GroupInfo: *teamGroup(t)}) {
		t.Fatal("handler failed on the joined group")
	}
	process()
	if n, jids := members(); n != 3 {
		t.Fatalf("members %d %v, want 3", n, jids)
	}
	// 333… is stored by phone (the group carried its pair); it leaves by LID.
	leave := &events.GroupInfo{JID: teamGroup(t).JID, Timestamp: testNow, Leave: []types.JID{mustJID(t, "333333333333333@lid")}}
	// 444… is stored by LID (no phone then); the LID table knows it now, and
	// it is promoted by phone.
	if err := lids.PutLIDMapping(ctx, mustJID(t, "444444444444444@lid"), mustJID(t, "15551230004@s.whatsapp.net")); err != nil {
		t.Fatal(err)
	}
	promote := &events.GroupInfo{JID: teamGroup(t).JID, Timestamp: testNow.Add(time.Second), Promote: []types.JID{mustJID(t, "444444444444444@lid")}}
	for _, evt := range []any{leave, promote} {
		if !s.handleEvent(ctx, evt) {
			t.Fatalf("handler failed on %T", evt)
		}
		process()
	}
	n, jids := members()
	want := []string{"15551230001@s.whatsapp.net/superadmin", "15551230004@s.whatsapp.net/admin"}
	if n != 2 || !slices.Equal(jids, want) {
		t.Errorf("members %d %v, want 2 %v", n, jids, want)
	}
}
