package wa

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waSyncAction"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

func TestMutedUntil(t *testing.T) {
	t.Parallel()
	end := testNow.Add(8 * time.Hour)
	for _, tt := range []struct {
		muted  bool
		millis int64
		want   time.Time
	}{
		{false, 0, time.Unix(0, 0).UTC()},
		{false, end.UnixMilli(), time.Unix(0, 0).UTC()},
		{true, -1, chatsync.MutedForever},
		{true, 0, chatsync.MutedForever},
		{true, end.UnixMilli(), end},
		{true, time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), chatsync.MutedForever},
	} {
		if got := mutedUntil(tt.muted, tt.millis); !got.Equal(tt.want) {
			t.Errorf("mutedUntil(%v, %d) = %s, want %s", tt.muted, tt.millis, got, tt.want)
		}
	}
}

// Events that are not a chat's state, or of JIDs chatsync does not keep,
// give nothing; a change from the full sync after pairing is a backfill.
func TestAppStateBatchKinds(t *testing.T) {
	t.Parallel()
	phone := mustJID(t, "15551230002@s.whatsapp.net")
	for name, evt := range map[string]any{
		"no action":      &events.Archive{JID: phone},
		"broadcast list": &events.Pin{JID: mustJID(t, "status@broadcast"), Action: &waSyncAction.PinAction{Pinned: proto.Bool(true)}},
		"other event":    &events.Star{ChatJID: phone},
	} {
		if _, _, err := AppStateBatch(evt); !errors.Is(err, ErrNothingToSync) {
			t.Errorf("%s: %v, want ErrNothingToSync", name, err)
		}
	}
	p, kind, err := AppStateBatch(&events.Archive{JID: phone, FromFullSync: true, Action: &waSyncAction.ArchiveChatAction{Archived: proto.Bool(true)}})
	if err != nil || kind != chatsync.BatchHistory || len(p.Chats) != 1 || !*p.Chats[0].Archived || p.Chats[0].Pinned != nil {
		t.Fatalf("full-sync archive: %+v, %s, %v", p, kind, err)
	}
	assertValid(t, p)
	group, kind, err := AppStateBatch(&events.Mute{JID: mustJID(t, "120363000000000001@g.us"), Action: &waSyncAction.MuteAction{Muted: proto.Bool(true)}})
	if err != nil || kind != chatsync.BatchLive || group.Chats[0].Type != chatsync.ChatGroup || !group.Chats[0].MutedUntil.Equal(chatsync.MutedForever) {
		t.Fatalf("live group mute: %+v, %s, %v", group, kind, err)
	}
	// Receipts of others' messages (my read on another device is the
	// read-self type), group receipts and retries change no status.
	lid := mustJID(t, "555555555555555@lid")
	for name, r := range map[string]*events.Receipt{
		"group":  {MessageSource: types.MessageSource{Chat: mustJID(t, "120363000000000001@g.us"), IsGroup: true}, MessageIDs: []string{"A"}, Type: types.ReceiptTypeRead, Timestamp: testNow},
		"retry":  {MessageSource: types.MessageSource{Chat: lid}, MessageIDs: []string{"A"}, Type: types.ReceiptTypeRetry, Timestamp: testNow},
		"no ids": {MessageSource: types.MessageSource{Chat: lid}, Type: types.ReceiptTypeRead, Timestamp: testNow},
	} {
		if _, err := ReceiptBatch(r); !errors.Is(err, ErrNothingToSync) {
			t.Errorf("%s receipt: %v, want ErrNothingToSync", name, err)
		}
	}
}

// App state and receipts as whatsmeow delivers them, through the Session,
// the Sink and the worker to the rows on PostgreSQL: archive then
// unarchive; pin while a live message arrives (still pinned); mute until a
// time; mark unread (the dot, count unchanged) and read (0); a receipt
// moving my message to read, and a late delivered one changing nothing.
func TestAppStateThroughThePipeline(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	s, _ := e.liveSession(t)
	process := e.processor(t)
	deliver := func(t *testing.T, evts ...any) {
		t.Helper()
		for _, evt := range evts {
			if !s.handleEvent(ctx, evt) {
				t.Fatalf("handler failed on %T", evt)
			}
			process()
		}
	}
	chat := func(t *testing.T, jid string) chatsync.ChatView {
		t.Helper()
		chats, err := e.st.ListChats(ctx, store.ChatFilter{WorkspaceID: e.ws}, nil, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chats {
			if c.JID == jid {
				return c
			}
		}
		t.Fatalf("no chat %s among %+v", jid, chats)
		return chatsync.ChatView{}
	}
	// Carol writes (her chat is addressed by LID; the message carries her
	// phone), and I write to Dave from the phone.
	carolLID, carolPhone := mustJID(t, "222222222222222@lid"), mustJID(t, "15551230002@s.whatsapp.net")
	deliver(t, imageMessage(t), fromMeToLID(t))
	const carol, dave = "15551230002@s.whatsapp.net", "15551230005@s.whatsapp.net"
	if c := chat(t, carol); c.UnreadCount != 1 || c.Archived || c.Pinned {
		t.Fatalf("Carol's chat after her message: %+v", c)
	}
	at := testNow.Add(-time.Minute)

	// Archive (by phone JID), unarchive (by LID): one chat.
	deliver(t, &events.Archive{JID: carolPhone, Timestamp: at, Action: &waSyncAction.ArchiveChatAction{Archived: proto.Bool(true)}})
	if c := chat(t, carol); !c.Archived || c.UnreadCount != 1 {
		t.Fatalf("after archive: %+v", c)
	}
	deliver(t, &events.Archive{JID: carolLID, Timestamp: at.Add(time.Second), Action: &waSyncAction.ArchiveChatAction{Archived: proto.Bool(false)}})
	if c := chat(t, carol); c.Archived {
		t.Fatalf("after unarchive: %+v", c)
	}

	// Pinned, then a live message: still pinned, one more unread.
	next := imageMessage(t)
	next.Info.ID = "3EB0C0FFEE000099"
	deliver(t, &events.Pin{JID: carolPhone, Timestamp: at, Action: &waSyncAction.PinAction{Pinned: proto.Bool(true)}}, next)
	if c := chat(t, carol); !c.Pinned || c.UnreadCount != 2 {
		t.Fatalf("pinned chat after a live message: %+v", c)
	}

	// Muted for eight hours from now.
	until := time.Now().Add(8 * time.Hour).Truncate(time.Millisecond).UTC()
	deliver(t, &events.Mute{JID: carolPhone, Timestamp: at, Action: &waSyncAction.MuteAction{Muted: proto.Bool(true), MuteEndTimestamp: proto.Int64(until.UnixMilli())}})
	if c := chat(t, carol); !c.MutedUntil.Equal(until) {
		t.Fatalf("after mute until %s: %+v", until, c)
	}

	// Marked unread: the dot, the count kept; then read: 0, no dot.
	deliver(t, &events.MarkChatAsRead{JID: carolPhone, Timestamp: at, Action: &waSyncAction.MarkChatAsReadAction{Read: proto.Bool(false)}})
	if c := chat(t, carol); !c.MarkedUnread || c.UnreadCount != 2 {
		t.Fatalf("after mark unread: %+v", c)
	}
	deliver(t, &events.MarkChatAsRead{JID: carolPhone, Timestamp: at.Add(time.Second), Action: &waSyncAction.MarkChatAsReadAction{Read: proto.Bool(true)}})
	if c := chat(t, carol); c.MarkedUnread || c.UnreadCount != 0 || !c.Pinned || !c.MutedUntil.Equal(until) {
		t.Fatalf("after mark read: %+v", c)
	}

	// Dave reads my message (his receipt names his LID chat); a late
	// delivered receipt does not move it back.
	daveLID := mustJID(t, "555555555555555@lid")
	mine := fromMeToLID(t).Info.ID
	deliver(t,
		&events.Receipt{MessageSource: types.MessageSource{Chat: daveLID, Sender: daveLID}, MessageIDs: []string{mine}, Type: types.ReceiptTypeRead, Timestamp: at},
		&events.Receipt{MessageSource: types.MessageSource{Chat: daveLID, Sender: daveLID}, MessageIDs: []string{mine}, Type: types.ReceiptTypeDelivered, Timestamp: at.Add(time.Second)},
	)
	d := chat(t, dave)
	msgs, err := e.st.ListMessages(ctx, e.ws, d.ID, nil, 10)
	if err != nil || len(msgs) != 1 || msgs[0].WAID != mine || msgs[0].Status != chatsync.StatusRead || msgs[0].Text != "on my way" {
		t.Fatalf("my message after Dave's receipts: %+v, %v; want read", msgs, err)
	}
}

// A conversation longer than one report holds (1,500 messages against
// chatsync.MaxChatMessages) lands whole: split into reports, none cut.
func TestLongHistoryChatLandsWhole(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	s, _ := e.liveSession(t)
	process := e.processor(t)
	msgs := make([]*waHistorySync.HistorySyncMsg, 1500)
	for i := range msgs {
		msgs[i] = webMsg(fmt.Sprintf("L%04d", i), i%3 == 0, "", uint64(testNow.Add(-time.Duration(1500-i)*time.Minute).Unix()), text(fmt.Sprintf("message %d", i)))
	}
	evt := &events.HistorySync{Data: &waHistorySync.HistorySync{
		SyncType: waHistorySync.HistorySync_FULL.Enum(), ChunkOrder: proto.Uint32(1),
		Conversations: []*waHistorySync.Conversation{{
			ID: proto.String("15551230001@s.whatsapp.net"), Name: proto.String("Alice"), UnreadCount: proto.Uint32(3), Messages: msgs,
		}},
	}}
	if !s.handleEvent(ctx, evt) {
		t.Fatal("handler failed on the history sync")
	}
	process()
	chats, err := e.st.ListChats(ctx, store.ChatFilter{WorkspaceID: e.ws}, nil, 10)
	if err != nil || len(chats) != 1 {
		t.Fatalf("chats %+v, %v", chats, err)
	}
	var n, distinct int
	if err := e.st.DB().NewRaw("SELECT count(*), count(DISTINCT wa_id) FROM messages WHERE chat_id = ?", chats[0].ID).Scan(ctx, &n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 1500 || distinct != 1500 {
		t.Fatalf("%d messages (%d distinct) stored, want all 1500", n, distinct)
	}
	if c := chats[0]; c.UnreadCount != 3 || c.LastMessagePreview != "message 1499" {
		t.Errorf("chat %+v: want the phone's unread count 3 (the parts' messages not counted again) and the newest preview", c)
	}
}
