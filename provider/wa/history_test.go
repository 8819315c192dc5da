package wa

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
)

// historyEvent is an initial history sync with private and group chats, LID
// and phone addressing, a message and a chat outside a 30-day window, and
// four chats in the window for a max_chats of 3.
// read marks a history message of mine as read by its recipient.
func read(m *waHistorySync.HistorySyncMsg) *waHistorySync.HistorySyncMsg {
	m.Message.Status = waWeb.WebMessageInfo_READ.Enum()
	return m
}

func historyEvent() *events.HistorySync {
	return &events.HistorySync{Data: &waHistorySync.HistorySync{
		SyncType:   waHistorySync.HistorySync_INITIAL_BOOTSTRAP.Enum(),
		ChunkOrder: proto.Uint32(1),
		Conversations: []*waHistorySync.Conversation{
			{
				// Phone-addressed private chat: text, an image with caption
				// from us, a reaction (not a message) and a message from
				// before the sync window.
				ID:          proto.String("15551230001@s.whatsapp.net"),
				Name:        proto.String("Alice"),
				UnreadCount: proto.Uint32(2),
				Pinned:      proto.Uint32(uint32(ago(5 * day))),
				MuteEndTime: proto.Uint64(uint64(testNow.Add(8 * time.Hour).Unix())),
				LidJID:      proto.String("111111111111111@lid"),
				Messages: []*waHistorySync.HistorySyncMsg{
					read(webMsg("A3", true, "", ago(2*time.Hour), &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("the view")}})),
					webMsg("A2", false, "", ago(day), text("see you tomorrow")),
					webMsg("A2R", false, "", ago(day-time.Minute), &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}),
					webMsg("A1", false, "", ago(40*day), text("older than the window")),
				},
			},
			{
				// LID-addressed private chat with its phone JID: keyed on
				// the phone. One message has a millisecond timestamp.
				ID:             proto.String("222222222222222@lid"),
				PnJID:          proto.String("15551230002@s.whatsapp.net"),
				Archived:       proto.Bool(true),
				MarkedAsUnread: proto.Bool(true),
				Messages: []*waHistorySync.HistorySyncMsg{
					webMsg("B1", false, "", ago(3*day), &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("https://example.com")}}),
					webMsg("B2", false, "", uint64(testNow.Add(-time.Hour).UnixMilli()), text("milliseconds")),
				},
			},
			{
				ID:                    proto.String("120363000000000001@g.us"),
				Name:                  proto.String("Team"),
				Description:           proto.String("Weekly planning"),
				CreatedBy:             proto.String("15551230001@s.whatsapp.net"),
				ConversationTimestamp: proto.Uint64(ago(4 * time.Hour)),
				Participant: []*waHistorySync.GroupParticipant{
					{UserJID: proto.String("15551230001@s.whatsapp.net"), Rank: waHistorySync.GroupParticipant_SUPERADMIN.Enum()},
					{UserJID: proto.String("333333333333333@lid"), Rank: waHistorySync.GroupParticipant_ADMIN.Enum()},
					{UserJID: proto.String("444444444444444@lid")},
					{UserJID: proto.String("444444444444444:3@lid")}, // same member, device JID
				},
				Messages: []*waHistorySync.HistorySyncMsg{
					webMsg("G1", false, "333333333333333@lid", ago(6*time.Hour), &waE2E.Message{
						EphemeralMessage: &waE2E.FutureProofMessage{Message: text("agenda attached")},
					}),
					webMsg("G2", false, "444444444444444:3@lid", ago(5*time.Hour), &waE2E.Message{
						DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{
							DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String("minutes"), FileName: proto.String("minutes.pdf")},
						}},
					}),
					webMsg("G3", true, "", ago(4*time.Hour), &waE2E.Message{AudioMessage: &waE2E.AudioMessage{}}),
				},
			},
			{
				// Last activity 60 days ago: outside the window.
				ID:               proto.String("120363000000000002@g.us"),
				Name:             proto.String("Old group"),
				LastMsgTimestamp: proto.Uint64(ago(60 * day)),
				Messages: []*waHistorySync.HistorySyncMsg{
					webMsg("O1", false, "15551230009@s.whatsapp.net", ago(60*day), text("long ago")),
				},
			},
			{
				// In the window but the oldest of four: cut by max_chats.
				ID:                    proto.String("15551230006@s.whatsapp.net"),
				ConversationTimestamp: proto.Uint64(ago(10 * day)),
			},
			{ID: proto.String("status@broadcast")},
		},
		Pushnames: []*waHistorySync.Pushname{
			{ID: proto.String("15551230001@s.whatsapp.net"), Pushname: proto.String("Alice A.")},
			{ID: proto.String("333333333333333@lid"), Pushname: proto.String("Bob")},
			{ID: proto.String("120363000000000001@g.us"), Pushname: proto.String("not a person")},
		},
		PhoneNumberToLidMappings: []*waHistorySync.PhoneNumberToLIDMapping{
			{PnJID: proto.String("15551230003@s.whatsapp.net"), LidJID: proto.String("333333333333333@lid")},
			{PnJID: proto.String("garbage"), LidJID: proto.String("555@lid")},
		},
	}}
}

func TestHistorySyncBatches(t *testing.T) {
	t.Parallel()
	cfg := chatsync.SyncConfig{MaxChats: 3, SyncWindowDays: 30}
	batches, skipped := HistorySyncBatches(historyEvent(), cfg, testNow, 2)
	assertValid(t, batches...)
	checkGolden(t, "history_sync", struct {
		Batches []chatsync.BatchPayload `json:"batches"`
		Skipped []Skipped               `json:"skipped"`
	}{batches, skipped})

	if len(batches) != 2 {
		t.Fatalf("got %d batches, want 2 (3 chats, 2 a batch)", len(batches))
	}
	var chats []chatsync.ChatInput
	for _, b := range batches {
		if len(b.Chats) > 2 {
			t.Errorf("batch with %d chats, want at most 2", len(b.Chats))
		}
		chats = append(chats, b.Chats...)
	}
	// Alice's last message is 2 h old, the group's 4 h, the LID chat's 3 days.
	wantOrder := []string{"15551230001@s.whatsapp.net", "120363000000000001@g.us", "15551230002@s.whatsapp.net"}
	for i, c := range chats {
		if c.JID != wantOrder[i] {
			t.Errorf("chat %d is %s, want %s (newest first)", i, c.JID, wantOrder[i])
		}
		for _, m := range c.Messages {
			if m.Timestamp.Before(testNow.Add(-30 * day)) {
				t.Errorf("chat %s: message %s is outside the sync window", c.JID, m.ID)
			}
		}
	}
	wantSkipped := map[string]string{
		"120363000000000002@g.us":    ReasonOutOfWindow,
		"15551230006@s.whatsapp.net": ReasonOverMaxChats,
		"status@broadcast":           ReasonNotAChat,
	}
	if len(skipped) != len(wantSkipped) {
		t.Errorf("skipped %v, want %v", skipped, wantSkipped)
	}
	for _, s := range skipped {
		if wantSkipped[s.JID] != s.Reason {
			t.Errorf("skipped %s for %q, want %q", s.JID, s.Reason, wantSkipped[s.JID])
		}
	}
	roles := map[string]chatsync.Role{}
	for _, p := range chats[1].Group.Participants {
		roles[p.JID] = p.Role
	}
	want := map[string]chatsync.Role{
		"15551230001@s.whatsapp.net": chatsync.RoleSuperAdmin,
		"333333333333333@lid":        chatsync.RoleAdmin,
		"444444444444444@lid":        chatsync.RoleMember,
	}
	if len(roles) != len(want) {
		t.Errorf("participants %v, want %v", roles, want)
	}
	for j, r := range want {
		if roles[j] != r {
			t.Errorf("participant %s role %q, want %q", j, roles[j], r)
		}
	}
}

func TestTranslateHistorySyncNoLimits(t *testing.T) {
	t.Parallel()
	h := TranslateHistorySync(historyEvent(), chatsync.SyncConfig{}, testNow)
	// Without a window or max_chats only the status broadcast is left out,
	// and the old message is kept.
	if len(h.Chats) != 5 {
		t.Errorf("got %d chats, want 5", len(h.Chats))
	}
	if len(h.Skipped) != 1 || h.Skipped[0].Reason != ReasonNotAChat {
		t.Errorf("skipped %v, want only the status broadcast", h.Skipped)
	}
	for _, c := range h.Chats {
		if c.JID == "15551230001@s.whatsapp.net" && len(c.Messages) != 3 {
			t.Errorf("chat %s has %d messages, want 3 (with the old one, without the reaction)", c.JID, len(c.Messages))
		}
	}
	assertValid(t, chatsync.BatchPayload{Chats: h.Chats, Contacts: h.Contacts})
}

func TestTranslateHistorySyncEmpty(t *testing.T) {
	t.Parallel()
	for name, evt := range map[string]*events.HistorySync{
		"nil data":   {},
		"push names": {Data: &waHistorySync.HistorySync{SyncType: waHistorySync.HistorySync_PUSH_NAME.Enum()}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			batches, skipped := HistorySyncBatches(evt, chatsync.SyncConfig{}, testNow, 0)
			if len(batches) != 0 || len(skipped) != 0 {
				t.Errorf("got %v, %v; want nothing", batches, skipped)
			}
		})
	}
}

func TestHistoryChatDropsInvalidAndSplitsLongChats(t *testing.T) {
	t.Parallel()
	msgs := make([]*waHistorySync.HistorySyncMsg, 0, chatsync.MaxChatMessages+10)
	for i := range chatsync.MaxChatMessages + 10 {
		msgs = append(msgs, webMsg("M"+itoa(i), false, "", ago(time.Duration(i)*time.Minute), text("hi")))
	}
	msgs = append(msgs,
		webMsg("", false, "", ago(time.Minute), text("no id")),
		webMsg(strings.Repeat("i", 129), false, "", ago(time.Minute), text("id too long")),
		webMsg("F1", false, "", uint64(testNow.Add(48*time.Hour).Unix()), text("from the future")),
		webMsg("S1", false, "", ago(time.Minute), nil), // a stub: no content
	)
	evt := &events.HistorySync{Data: &waHistorySync.HistorySync{Conversations: []*waHistorySync.Conversation{{
		ID:       proto.String("15551230001@s.whatsapp.net"),
		Name:     proto.String("bad \xff name" + strings.Repeat("n", 2000)),
		Messages: msgs,
	}}}}
	h := TranslateHistorySync(evt, chatsync.SyncConfig{}, testNow)
	if len(h.Chats) != 1 {
		t.Fatalf("got %d chats, skipped %v", len(h.Chats), h.Skipped)
	}
	c := h.Chats[0]
	if len(c.Messages) != chatsync.MaxChatMessages+10 {
		t.Errorf("got %d messages, want all %d valid ones", len(c.Messages), chatsync.MaxChatMessages+10)
	}
	if newest := c.Messages[len(c.Messages)-1]; !newest.Timestamp.Equal(time.Unix(int64(ago(0)), 0)) {
		t.Errorf("newest message at %v, want the newest one last", newest.Timestamp)
	}
	if len(c.Name) > maxNameBytes || strings.Contains(c.Name, "\xff") {
		t.Errorf("name not cleaned: %d bytes", len(c.Name))
	}
	// More messages than one report holds: two reports of the chat, every
	// message in one of them, the state in both.
	c.UnreadCount = new(int32(4))
	payloads := SplitBatches([]chatsync.ChatInput{c}, nil, 0)
	assertValid(t, payloads...)
	var parts []chatsync.ChatInput
	for _, p := range payloads {
		parts = append(parts, p.Chats...)
	}
	seen := map[string]bool{}
	for _, part := range parts {
		if part.JID != c.JID || part.UnreadCount == nil || *part.UnreadCount != 4 {
			t.Errorf("part %s, unread %v: want the chat's JID and state", part.JID, part.UnreadCount)
		}
		for _, m := range part.Messages {
			seen[m.ID] = true
		}
	}
	if len(parts) != 2 || len(seen) != chatsync.MaxChatMessages+10 {
		t.Errorf("%d parts with %d distinct messages, want 2 with %d", len(parts), len(seen), chatsync.MaxChatMessages+10)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestSplitBatches(t *testing.T) {
	t.Parallel()
	chat := func(jid string, msgs, textLen int) chatsync.ChatInput {
		c := chatsync.ChatInput{JID: jid, Type: chatsync.ChatPrivate, LastActivity: testNow}
		for i := range msgs {
			c.Messages = append(c.Messages, chatsync.MessageInput{
				ID: "M" + itoa(i), Timestamp: testNow.Add(time.Duration(i-msgs) * time.Second), Text: strings.Repeat("x", textLen),
			})
		}
		return c
	}
	contacts := func(n int) []chatsync.ContactInput {
		out := make([]chatsync.ContactInput, n)
		for i := range out {
			out[i] = chatsync.ContactInput{JID: "1555" + itoa(1000000+i) + "@s.whatsapp.net"}
		}
		return out
	}
	tests := []struct {
		name         string
		chats        []chatsync.ChatInput
		contacts     []chatsync.ContactInput
		size         int
		wantBatches  int
		wantChats    int
		wantContacts int
	}{
		{name: "empty", wantBatches: 0},
		{name: "default size", chats: repeatChat(chat("15550000001@s.whatsapp.net", 1, 1), 250), size: 0, wantBatches: 3, wantChats: 250},
		{name: "clamped to max chats", chats: repeatChat(chat("15550000001@s.whatsapp.net", 0, 0), 1200), size: 10000, wantBatches: 3, wantChats: 1200},
		{name: "contacts split", contacts: contacts(chatsync.MaxBatchContacts + 1), wantBatches: 2, wantContacts: chatsync.MaxBatchContacts + 1},
		{name: "contacts then chats", chats: repeatChat(chat("15550000001@s.whatsapp.net", 0, 0), 3), contacts: contacts(2), size: 2, wantBatches: 2, wantChats: 3, wantContacts: 2},
		// 3 chats of 400 messages of 8 KiB: each ~3.2 MiB, so one a batch.
		{name: "by bytes", chats: repeatChat(chat("15550000001@s.whatsapp.net", 400, 8192), 3), size: 100, wantBatches: 3, wantChats: 3},
		// One chat of 200 messages of 64 KiB (~13 MiB) goes in parts of a
		// batch each, no message dropped.
		{name: "oversized chat split", chats: []chatsync.ChatInput{chat("15550000001@s.whatsapp.net", 200, chatsync.MaxTextBytes)}, wantBatches: 3, wantChats: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := SplitBatches(tt.chats, tt.contacts, tt.size)
			if len(got) != tt.wantBatches {
				t.Errorf("got %d batches, want %d", len(got), tt.wantBatches)
			}
			var chats, contacts int
			for _, p := range got {
				chats += len(p.Chats)
				contacts += len(p.Contacts)
				if b, _ := json.Marshal(p); len(b) > batchByteBudget {
					t.Errorf("batch of %d bytes, over the budget %d", len(b), batchByteBudget)
				}
				if tt.size > 0 && len(p.Chats) > min(tt.size, chatsync.MaxBatchChats) {
					t.Errorf("batch of %d chats, size %d", len(p.Chats), tt.size)
				}
			}
			if chats != tt.wantChats || contacts != tt.wantContacts {
				t.Errorf("got %d chats, %d contacts; want %d, %d", chats, contacts, tt.wantChats, tt.wantContacts)
			}
			if tt.name == "oversized chat split" {
				var ids []string
				for _, p := range got {
					for _, m := range p.Chats[0].Messages {
						ids = append(ids, m.ID)
					}
				}
				if len(ids) != 200 || ids[0] != "M0" || ids[199] != "M199" {
					t.Errorf("the parts hold %d messages (%v…), want all 200 in order", len(ids), ids[:min(3, len(ids))])
				}
			}
		})
	}
}

func repeatChat(c chatsync.ChatInput, n int) []chatsync.ChatInput {
	out := make([]chatsync.ChatInput, n)
	for i := range out {
		out[i] = c
	}
	return out
}
