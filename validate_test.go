package chatsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
)

// Characters no store can hold are refused by validation, per chat, with
// the field named.
func TestValidateRefusesNUL(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	base := func() chatsync.ChatInput {
		return chatsync.ChatInput{
			JID: "15551234567@s.whatsapp.net", Type: chatsync.ChatPrivate, Name: "Alice",
			Contact:  &chatsync.ContactInput{PushName: "Al", FullName: "Alice A."},
			Messages: []chatsync.MessageInput{{ID: "m1", Timestamp: now, Text: "hi"}},
		}
	}
	group := func() chatsync.ChatInput {
		return chatsync.ChatInput{JID: "120363041234567890@g.us", Type: chatsync.ChatGroup, Group: &chatsync.GroupInput{Subject: "Team", Description: "d"}}
	}
	tests := []struct {
		field string
		chat  func() chatsync.ChatInput
	}{
		{"name", func() chatsync.ChatInput { c := base(); c.Name = "Ali\x00ce"; return c }},
		{"contact.push_name", func() chatsync.ChatInput { c := base(); c.Contact.PushName = "\x00"; return c }},
		{"contact.full_name", func() chatsync.ChatInput { c := base(); c.Contact.FullName = "A\x00"; return c }},
		{"messages[0].text", func() chatsync.ChatInput { c := base(); c.Messages[0].Text = "hi\x00"; return c }},
		{"messages[0].id", func() chatsync.ChatInput { c := base(); c.Messages[0].ID = "m\x001"; return c }},
		{"group.subject", func() chatsync.ChatInput { c := group(); c.Group.Subject = "T\x00"; return c }},
		{"group.description", func() chatsync.ChatInput { c := group(); c.Group.Description = "\x00d"; return c }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			c := tt.chat()
			err := c.Validate(now)
			if err == nil || !strings.HasPrefix(err.Error(), tt.field+": ") || !strings.Contains(err.Error(), "NUL") {
				t.Fatalf("Validate = %v, want a NUL error naming %s", err, tt.field)
			}
		})
	}
	ok := base()
	if err := ok.Validate(now); err != nil {
		t.Fatalf("the base chat is refused: %v", err)
	}
}

// WrittenEvents: a chat_upserted per chat, then a message_added per
// message, each pointing at its own element.
func TestWrittenEvents(t *testing.T) {
	at := time.Unix(1_750_000_000, 0)
	chats := []chatsync.ChatView{{ID: 1}, {ID: 2}}
	msgs := []chatsync.Message{{ID: 9}}
	evs := chatsync.WrittenEvents(3, 4, at, chats, msgs, nil)
	if len(evs) != 3 || evs[0].Type != chatsync.EventChatUpserted || evs[1].Chat != &chats[1] || evs[2].Type != chatsync.EventMessageAdded ||
		evs[2].Message != &msgs[0] || evs[2].WorkspaceID != 3 || evs[2].SessionID != 4 || !evs[0].Time.Equal(at) {
		t.Fatalf("events %+v", evs)
	}
	if evs := chatsync.WrittenEvents(3, 4, at, nil, nil, nil); len(evs) != 0 {
		t.Fatalf("nothing written gave %d events", len(evs))
	}
}
