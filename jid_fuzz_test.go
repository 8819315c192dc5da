package chatsync_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
)

func TestParseJID(t *testing.T) {
	tests := []struct {
		in      string
		want    chatsync.JID
		group   bool
		lid     bool
		wantErr bool
	}{
		{in: "15551234567@s.whatsapp.net", want: chatsync.JID{User: "15551234567", Server: chatsync.ServerUser}},
		{in: "15551234567:12@s.whatsapp.net", want: chatsync.JID{User: "15551234567", Device: "12", Server: chatsync.ServerUser}},
		{in: "123456789012345@lid", want: chatsync.JID{User: "123456789012345", Server: chatsync.ServerLID}, lid: true},
		{in: "120363041234567890@g.us", want: chatsync.JID{User: "120363041234567890", Server: chatsync.ServerGroup}, group: true},
		{in: "6281234567890-1600000000@g.us", want: chatsync.JID{User: "6281234567890-1600000000", Server: chatsync.ServerGroup}, group: true},
		{in: "", wantErr: true},
		{in: "@s.whatsapp.net", wantErr: true},
		{in: "15551234567", wantErr: true},
		{in: "1555x@s.whatsapp.net", wantErr: true},
		{in: "1555:x@s.whatsapp.net", wantErr: true},
		{in: "123456789012345678901@s.whatsapp.net", wantErr: true},
		{in: "1-2-3@g.us", wantErr: true},
		{in: "15551234567@example.com", wantErr: true},
		{in: strings.Repeat("1", 129) + "@g.us", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := chatsync.ParseJID(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseJID(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got != tt.want || got.String() != tt.in || got.IsGroup() != tt.group || got.IsLID() != tt.lid {
				t.Fatalf("ParseJID(%q) = %+v (%s)", tt.in, got, got)
			}
		})
	}
}

// FuzzParseJID: parsing never panics, and what parses prints back to the
// same text, parses again to the same JID, and has a bare form without
// the device.
func FuzzParseJID(f *testing.F) {
	for _, s := range []string{
		"15551234567@s.whatsapp.net", "15551234567:3@s.whatsapp.net", "123456789012345@lid",
		"120363041234567890@g.us", "6281234567890-1600000000@g.us", "", "@", "1@", "@g.us", "1:@lid", "1-@g.us",
		"١٢٣@s.whatsapp.net", "1@s.whatsapp.net@g.us",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := chatsync.ParseJID(s)
		if err != nil {
			return
		}
		if len(s) > 128 {
			t.Fatalf("accepted %d characters", len(s))
		}
		if j.String() != s {
			t.Fatalf("ParseJID(%q).String() = %q", s, j.String())
		}
		again, err := chatsync.ParseJID(j.String())
		if err != nil || again != j {
			t.Fatalf("reparse of %q = %+v, %v; want %+v", s, again, err, j)
		}
		bare, err := chatsync.ParseJID(j.Bare())
		if err != nil || bare.Device != "" || bare.User != j.User || bare.Server != j.Server {
			t.Fatalf("bare form of %q = %+v, %v", s, bare, err)
		}
		if j.IsGroup() == (j.Server != chatsync.ServerGroup) || j.IsLID() == (j.Server != chatsync.ServerLID) {
			t.Fatalf("kind of %+v", j)
		}
	})
}

// FuzzChatInputValidate: Validate never panics on any chat built from the
// fuzzer's values, and a chat it accepts is left normalised: validating it
// again accepts it and changes nothing.
func FuzzChatInputValidate(f *testing.F) {
	f.Add("15551234567@s.whatsapp.net", "private", "Alice", "+1 555 123 4567", "", "m1", int64(1700000000), "hi", "")
	f.Add("120363041234567890@g.us", "group", "Team", "", "15551234567:2@s.whatsapp.net", "m2", int64(1700000000), "", "admin")
	f.Add("123@lid", "private", "", "12345", "", "", int64(0), "", "")
	f.Add("1@g.us", "private", "\xff", "abc", "x", "m", int64(-1), "\x00", "owner")
	now := time.Unix(1800000000, 0).UTC()
	f.Fuzz(func(t *testing.T, jid, typ, name, phone, member, msgID string, ts int64, text, role string) {
		c := chatsync.ChatInput{JID: jid, Type: chatsync.ChatType(typ), Name: name, LastActivity: time.Unix(ts, 0).UTC()}
		if c.Type == chatsync.ChatGroup {
			c.Group = &chatsync.GroupInput{Subject: name, Participants: []chatsync.ParticipantInput{{JID: member, Phone: phone, Role: chatsync.Role(role)}}}
		} else {
			c.Contact = &chatsync.ContactInput{Phone: phone, PushName: name, AltJID: member}
		}
		if msgID != "" {
			c.Messages = []chatsync.MessageInput{{ID: msgID, SenderJID: member, Timestamp: time.Unix(ts, 0).UTC(), Text: text}}
		}
		if err := c.Validate(now); err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		before := clone(c)
		if err := c.Validate(now); err != nil {
			t.Fatalf("a chat Validate accepted is refused the second time: %v", err)
		}
		if !equal(before, c) {
			t.Fatalf("a second Validate changed the chat:\n%+v\n%+v", before, c)
		}
	})
}

func clone(c chatsync.ChatInput) chatsync.ChatInput {
	out := c
	if c.Contact != nil {
		ct := *c.Contact
		out.Contact = &ct
	}
	if c.Group != nil {
		g := *c.Group
		g.Participants = append([]chatsync.ParticipantInput(nil), c.Group.Participants...)
		out.Group = &g
	}
	out.Messages = append([]chatsync.MessageInput(nil), c.Messages...)
	return out
}

func equal(a, b chatsync.ChatInput) bool {
	if (a.Contact == nil) != (b.Contact == nil) || (a.Group == nil) != (b.Group == nil) || len(a.Messages) != len(b.Messages) {
		return false
	}
	if a.Contact != nil && *a.Contact != *b.Contact {
		return false
	}
	if a.Group != nil {
		if a.Group.Subject != b.Group.Subject || len(a.Group.Participants) != len(b.Group.Participants) {
			return false
		}
		for i := range a.Group.Participants {
			if a.Group.Participants[i] != b.Group.Participants[i] {
				return false
			}
		}
	}
	for i := range a.Messages {
		if !reflect.DeepEqual(a.Messages[i], b.Messages[i]) {
			return false
		}
	}
	return a.JID == b.JID && a.Type == b.Type && a.Name == b.Name && a.LastActivity.Equal(b.LastActivity)
}
