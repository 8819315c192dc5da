package wa

import (
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waSyncAction"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
)

// teamGroup is a group as whatsmeow's GetGroupInfo returns it for a
// LID-addressed group.
func teamGroup(t testing.TB) *types.GroupInfo {
	return &types.GroupInfo{
		JID:            mustJID(t, "120363000000000001@g.us"),
		OwnerJID:       mustJID(t, "111111111111111@lid"),
		OwnerPN:        mustJID(t, "15551230001@s.whatsapp.net"),
		GroupName:      types.GroupName{Name: "Team"},
		GroupTopic:     types.GroupTopic{Topic: "Weekly planning"},
		AddressingMode: types.AddressingModeLID,
		Participants: []types.GroupParticipant{
			{JID: mustJID(t, "111111111111111@lid"), LID: mustJID(t, "111111111111111@lid"), PhoneNumber: mustJID(t, "15551230001@s.whatsapp.net"), IsAdmin: true, IsSuperAdmin: true},
			{JID: mustJID(t, "333333333333333@lid"), LID: mustJID(t, "333333333333333@lid"), PhoneNumber: mustJID(t, "15551230003@s.whatsapp.net"), IsAdmin: true},
			{JID: mustJID(t, "444444444444444@lid"), LID: mustJID(t, "444444444444444@lid")},
			{JID: mustJID(t, "15551230009@s.whatsapp.net"), Error: 403}, // a failed add
		},
	}
}

// groupTextMessage is a text message in a LID-addressed group, as
// whatsmeow's parseMessageSource fills it.
func groupTextMessage(t testing.TB) *events.Message {
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{
				Chat:           mustJID(t, "120363000000000001@g.us"),
				Sender:         mustJID(t, "333333333333333:2@lid"),
				SenderAlt:      mustJID(t, "15551230003:2@s.whatsapp.net"),
				IsGroup:        true,
				AddressingMode: types.AddressingModeLID,
			},
			ID:        "3EB0C0FFEE000001",
			PushName:  "Bob",
			Timestamp: testNow.Add(-time.Minute),
			Type:      "text",
		},
		Message: &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("lunch at 1?")}},
	}
}

// imageMessage is an image with a caption in a private chat addressed by LID.
func imageMessage(t testing.TB) *events.Message {
	raw := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("the whiteboard"), Mimetype: proto.String("image/jpeg")}}
	return (&events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{
				Chat:      mustJID(t, "222222222222222@lid"),
				Sender:    mustJID(t, "222222222222222@lid"),
				SenderAlt: mustJID(t, "15551230002@s.whatsapp.net"),
			},
			ID:        "3EB0C0FFEE000002",
			PushName:  "Carol",
			Timestamp: testNow.Add(-2 * time.Minute),
			MediaType: "image",
		},
		RawMessage: raw,
	}).UnwrapRaw()
}

// fromMeToLID is our own message, sent from the phone, in a private chat
// addressed by LID, with the recipient's phone JID (RecipientAlt).
func fromMeToLID(t testing.TB) *events.Message {
	return &events.Message{
		Info: types.MessageInfo{
			MessageSource: types.MessageSource{
				Chat:         mustJID(t, "555555555555555@lid"),
				Sender:       mustJID(t, "15559990000:0@s.whatsapp.net"),
				IsFromMe:     true,
				RecipientAlt: mustJID(t, "15551230005@s.whatsapp.net"),
			},
			ID:        "3EB0C0FFEE000003",
			PushName:  "Me",
			Timestamp: testNow.Add(-3 * time.Minute),
		},
		Message: &waE2E.Message{Conversation: proto.String("on my way")},
	}
}

func TestLiveGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		batch func(t *testing.T) (chatsync.BatchPayload, error)
	}{
		{"group_text_message", func(t *testing.T) (chatsync.BatchPayload, error) {
			return MessageBatch(groupTextMessage(t), teamGroup(t), testNow)
		}},
		{"group_text_message_without_group_info", func(t *testing.T) (chatsync.BatchPayload, error) {
			return MessageBatch(groupTextMessage(t), nil, testNow)
		}},
		{"image_message_with_caption", func(t *testing.T) (chatsync.BatchPayload, error) {
			return MessageBatch(imageMessage(t), nil, testNow)
		}},
		{"lid_mapping_from_me", func(t *testing.T) (chatsync.BatchPayload, error) {
			return MessageBatch(fromMeToLID(t), nil, testNow)
		}},
		{"membership_change", func(t *testing.T) (chatsync.BatchPayload, error) {
			return GroupInfoBatch(&events.GroupInfo{
				JID:       mustJID(t, "120363000000000001@g.us"),
				Sender:    ptrJID(t, "111111111111111@lid"),
				SenderPN:  ptrJID(t, "15551230001@s.whatsapp.net"),
				Timestamp: testNow.Add(-time.Hour),
				Name:      &types.GroupName{Name: "Team (2025)"},
				Leave:     []types.JID{mustJID(t, "444444444444444@lid")},
				Promote:   []types.JID{mustJID(t, "15551230007@s.whatsapp.net")},
			}, testNow)
		}},
		{"join_and_demote_with_description", func(t *testing.T) (chatsync.BatchPayload, error) {
			return GroupInfoBatch(&events.GroupInfo{
				JID:       mustJID(t, "120363000000000001@g.us"),
				Timestamp: testNow.Add(-time.Hour),
				Topic:     &types.GroupTopic{Topic: "Planning, weekly"},
				Join:      []types.JID{mustJID(t, "15551230008@s.whatsapp.net"), mustJID(t, "120363000000000009@g.us")},
				Demote:    []types.JID{mustJID(t, "333333333333333@lid")},
			}, testNow)
		}},
		{"joined_group", func(t *testing.T) (chatsync.BatchPayload, error) {
			return JoinedGroupBatch(&events.JoinedGroup{
				Reason:    "invite",
				Sender:    ptrJID(t, "111111111111111@lid"),
				SenderPN:  ptrJID(t, "15551230001@s.whatsapp.net"),
				GroupInfo: *teamGroup(t),
			}, testNow)
		}},
		{"contact", func(t *testing.T) (chatsync.BatchPayload, error) {
			return ContactBatch(&events.Contact{
				JID:       mustJID(t, "15551230001@s.whatsapp.net"),
				Timestamp: testNow,
				Action: &waSyncAction.ContactAction{
					FullName:  proto.String("Alice Anders"),
					FirstName: proto.String("Alice"),
					LidJID:    proto.String("111111111111111@lid"),
				},
			})
		}},
		{"contact_by_lid", func(t *testing.T) (chatsync.BatchPayload, error) {
			return ContactBatch(&events.Contact{
				JID:    mustJID(t, "333333333333333@lid"),
				Action: &waSyncAction.ContactAction{FirstName: proto.String("Bob"), PnJID: proto.String("15551230003@s.whatsapp.net")},
			})
		}},
		{"push_name", func(t *testing.T) (chatsync.BatchPayload, error) {
			return PushNameBatch(&events.PushName{
				JID:         mustJID(t, "333333333333333@lid"),
				JIDAlt:      mustJID(t, "15551230003@s.whatsapp.net"),
				Message:     &groupTextMessage(t).Info,
				OldPushName: "Bobby",
				NewPushName: "Bob",
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.batch(t)
			if err != nil {
				t.Fatal(err)
			}
			assertValid(t, p)
			checkGolden(t, tt.name, p)
		})
	}
}

func TestMessageBatchShapes(t *testing.T) {
	t.Parallel()
	t.Run("group", func(t *testing.T) {
		t.Parallel()
		p, err := MessageBatch(groupTextMessage(t), teamGroup(t), testNow)
		if err != nil {
			t.Fatal(err)
		}
		c := p.Chats[0]
		if c.Type != chatsync.ChatGroup || c.JID != "120363000000000001@g.us" || c.Name != "Team" {
			t.Errorf("chat %s %s %q, want the group", c.Type, c.JID, c.Name)
		}
		if n := len(c.Group.Participants); n != 3 {
			t.Errorf("%d participants, want 3 (the failed add left out)", n)
		}
		if m := c.Messages[0]; m.SenderJID != "333333333333333@lid" || m.Text != "lunch at 1?" {
			t.Errorf("message %+v", m)
		}
		if len(p.Contacts) != 1 || p.Contacts[0].JID != "15551230003@s.whatsapp.net" || p.Contacts[0].AltJID != "333333333333333@lid" {
			t.Errorf("sender contact %+v, want the phone JID with the LID", p.Contacts)
		}
	})
	t.Run("lid chat keyed on phone", func(t *testing.T) {
		t.Parallel()
		p, err := MessageBatch(imageMessage(t), nil, testNow)
		if err != nil {
			t.Fatal(err)
		}
		c := p.Chats[0]
		if c.JID != "15551230002@s.whatsapp.net" || c.Contact.AltJID != "222222222222222@lid" || c.Contact.PushName != "Carol" {
			t.Errorf("chat %s contact %+v", c.JID, c.Contact)
		}
		if m := c.Messages[0]; m.MediaType != chatsync.MediaImage || m.Text != "the whiteboard" {
			t.Errorf("message %+v", m)
		}
	})
	t.Run("incoming broadcast list goes to the sender's chat", func(t *testing.T) {
		t.Parallel()
		e := imageMessage(t)
		e.Info.Chat = mustJID(t, "1700000000@broadcast")
		e.Info.Sender = mustJID(t, "15551230002:4@s.whatsapp.net")
		e.Info.SenderAlt = types.JID{}
		p, err := MessageBatch(e, nil, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if c := p.Chats[0]; c.JID != "15551230002@s.whatsapp.net" || c.Type != chatsync.ChatPrivate {
			t.Errorf("chat %s %s, want the sender's private chat", c.JID, c.Type)
		}
	})
	t.Run("raw message is unwrapped", func(t *testing.T) {
		t.Parallel()
		e := groupTextMessage(t)
		e.Message = nil
		e.RawMessage = &waE2E.Message{ViewOnceMessageV2: &waE2E.FutureProofMessage{Message: &waE2E.Message{VideoMessage: &waE2E.VideoMessage{}}}}
		p, err := MessageBatch(e, nil, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if m := p.Chats[0].Messages[0]; m.MediaType != chatsync.MediaVideo {
			t.Errorf("media %q, want video", m.MediaType)
		}
	})
}

func TestNothingToSync(t *testing.T) {
	t.Parallel()
	reaction := groupTextMessage(t)
	reaction.Message = &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("❤")}}
	revoke := groupTextMessage(t)
	revoke.Message = &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}
	status := imageMessage(t)
	status.Info.Chat = types.StatusBroadcastJID
	newsletter := imageMessage(t)
	newsletter.Info.Chat = mustJID(t, "120363000000000077@newsletter")
	ownBroadcast := fromMeToLID(t)
	ownBroadcast.Info.Chat = mustJID(t, "1700000000@broadcast")
	noID := imageMessage(t)
	noID.Info.ID = ""

	tests := []struct {
		name  string
		batch func() (chatsync.BatchPayload, error)
	}{
		{"reaction without a target", func() (chatsync.BatchPayload, error) { return MessageBatch(reaction, nil, testNow) }},
		{"revoke without a target", func() (chatsync.BatchPayload, error) { return MessageBatch(revoke, nil, testNow) }},
		{"status broadcast", func() (chatsync.BatchPayload, error) { return MessageBatch(status, nil, testNow) }},
		{"newsletter", func() (chatsync.BatchPayload, error) { return MessageBatch(newsletter, nil, testNow) }},
		{"own broadcast", func() (chatsync.BatchPayload, error) { return MessageBatch(ownBroadcast, nil, testNow) }},
		{"no message id", func() (chatsync.BatchPayload, error) { return MessageBatch(noID, nil, testNow) }},
		{"group settings only", func() (chatsync.BatchPayload, error) {
			return GroupInfoBatch(&events.GroupInfo{JID: mustJID(t, "120363000000000001@g.us"), Locked: &types.GroupLocked{IsLocked: true}}, testNow)
		}},
		{"group description deleted", func() (chatsync.BatchPayload, error) {
			return GroupInfoBatch(&events.GroupInfo{JID: mustJID(t, "120363000000000001@g.us"), Topic: &types.GroupTopic{TopicDeleted: true}}, testNow)
		}},
		{"group info of a user JID", func() (chatsync.BatchPayload, error) {
			return GroupInfoBatch(&events.GroupInfo{JID: mustJID(t, "15551230001@s.whatsapp.net"), Name: &types.GroupName{Name: "x"}}, testNow)
		}},
		{"joined a non-group", func() (chatsync.BatchPayload, error) {
			return JoinedGroupBatch(&events.JoinedGroup{GroupInfo: types.GroupInfo{JID: mustJID(t, "15551230001@s.whatsapp.net")}}, testNow)
		}},
		{"contact without action", func() (chatsync.BatchPayload, error) {
			return ContactBatch(&events.Contact{JID: mustJID(t, "15551230001@s.whatsapp.net")})
		}},
		{"contact without name", func() (chatsync.BatchPayload, error) {
			return ContactBatch(&events.Contact{JID: mustJID(t, "15551230001@s.whatsapp.net"), Action: &waSyncAction.ContactAction{}})
		}},
		{"contact of a group", func() (chatsync.BatchPayload, error) {
			return ContactBatch(&events.Contact{JID: mustJID(t, "120363000000000001@g.us"), Action: &waSyncAction.ContactAction{FullName: proto.String("x")}})
		}},
		{"empty push name", func() (chatsync.BatchPayload, error) {
			return PushNameBatch(&events.PushName{JID: mustJID(t, "15551230001@s.whatsapp.net"), OldPushName: "Alice"})
		}},
		{"push name of a newsletter", func() (chatsync.BatchPayload, error) {
			return PushNameBatch(&events.PushName{JID: mustJID(t, "120363000000000077@newsletter"), NewPushName: "x"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.batch()
			if !errors.Is(err, ErrNothingToSync) {
				t.Errorf("got %+v, %v; want ErrNothingToSync", p, err)
			}
		})
	}
}

func TestMessageBatchInvalid(t *testing.T) {
	t.Parallel()
	e := groupTextMessage(t)
	e.Info.Timestamp = testNow.Add(72 * time.Hour)
	_, err := MessageBatch(e, nil, testNow)
	if err == nil || errors.Is(err, ErrNothingToSync) {
		t.Errorf("a message from the future: got %v, want a validation error", err)
	}
}

// Live reports say nothing about a chat's state: the store keeps what the
// phone reported in history (pinned, archived, unread) and counts the new
// message itself. Group info changes carry no state either.
func TestLiveReportsCarryNoChatState(t *testing.T) {
	t.Parallel()
	batches := map[string]func(t *testing.T) (chatsync.BatchPayload, error){
		"group message": func(t *testing.T) (chatsync.BatchPayload, error) {
			return MessageBatch(groupTextMessage(t), teamGroup(t), testNow)
		},
		"private message": func(t *testing.T) (chatsync.BatchPayload, error) { return MessageBatch(imageMessage(t), nil, testNow) },
		"from me":         func(t *testing.T) (chatsync.BatchPayload, error) { return MessageBatch(fromMeToLID(t), nil, testNow) },
		"group info": func(t *testing.T) (chatsync.BatchPayload, error) {
			return GroupInfoBatch(&events.GroupInfo{
				JID: mustJID(t, "120363000000000001@g.us"), Timestamp: testNow.Add(-time.Hour),
				Name: &types.GroupName{Name: "Team (2025)"}, Leave: []types.JID{mustJID(t, "444444444444444@lid")},
			}, testNow)
		},
	}
	for name, batch := range batches {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := batch(t)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Chats) != 1 {
				t.Fatalf("%d chats, want 1", len(p.Chats))
			}
			if c := p.Chats[0]; c.UnreadCount != nil || c.Archived != nil || c.Pinned != nil {
				t.Errorf("live report carries state: unread %v, archived %v, pinned %v", c.UnreadCount, c.Archived, c.Pinned)
			}
		})
	}
}
