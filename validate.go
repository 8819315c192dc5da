package chatsync

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Timestamps before this (WhatsApp's launch) or more than a day in the future
// are refused: they are clock or unit bugs in the provider.
var minTimestamp = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)

// Validate checks a chat as a whole; an error names the field. It normalises
// what it can in place (bare JIDs, default contact JID, default roles).
func (c *ChatInput) Validate(now time.Time) error {
	j, err := ParseJID(c.JID)
	if err != nil {
		return fmt.Errorf("jid: %w", err)
	}
	if j.Device != "" {
		return errors.New("jid: a chat JID has no device part")
	}
	switch c.Type {
	case ChatPrivate:
		if j.IsGroup() {
			return errors.New("type: private chat with a group JID")
		}
		if c.Group != nil {
			return errors.New("group: set on a private chat")
		}
	case ChatGroup:
		if !j.IsGroup() {
			return errors.New("type: group chat with a non-group JID")
		}
		if c.Contact != nil {
			return errors.New("contact: set on a group chat")
		}
	default:
		return errors.New("type: must be private or group")
	}
	if c.UnreadCount != nil && *c.UnreadCount < 0 {
		return errors.New("unread_count: negative")
	}
	if err := checkText("name", c.Name, 1024); err != nil {
		return err
	}
	if c.MutedUntil != nil && (c.MutedUntil.Before(time.Unix(0, 0)) || c.MutedUntil.After(MutedForever)) {
		return fmt.Errorf("muted_until: %s is outside 1970 to %s (muted forever)", c.MutedUntil.UTC().Format(time.RFC3339), MutedForever.Format(time.RFC3339))
	}
	if !c.LastActivity.IsZero() {
		if err := checkTime("last_activity_time", c.LastActivity, now); err != nil {
			return err
		}
	}
	if c.Contact != nil {
		if c.Contact.JID == "" {
			c.Contact.JID = c.JID
		}
		if c.Contact.JID != c.JID && c.Contact.AltJID != c.JID {
			return errors.New("contact.jid: differs from the chat's JID")
		}
		if err := c.Contact.Validate("contact."); err != nil {
			return err
		}
	}
	if c.Group != nil {
		if err := c.Group.validate(); err != nil {
			return err
		}
	}
	if len(c.Messages) > MaxChatMessages {
		return fmt.Errorf("messages: more than %d", MaxChatMessages)
	}
	for i := range c.Messages {
		if err := c.Messages[i].validate(now); err != nil {
			return fmt.Errorf("messages[%d].%w", i, err)
		}
	}
	return nil
}

// Validate checks a contact; prefix names its place in the request.
func (c *ContactInput) Validate(prefix string) error {
	j, err := ParseJID(c.JID)
	if err != nil {
		return fmt.Errorf("%sjid: %w", prefix, err)
	}
	if j.IsGroup() {
		return fmt.Errorf("%sjid: a group JID is not a contact", prefix)
	}
	c.JID = j.Bare()
	if c.AltJID != "" {
		a, err := ParseJID(c.AltJID)
		if err != nil {
			return fmt.Errorf("%salt_jid: %w", prefix, err)
		}
		if a.IsGroup() || a.IsLID() == j.IsLID() {
			return fmt.Errorf("%salt_jid: must be the other kind of JID (LID vs phone) of the same person", prefix)
		}
		c.AltJID = a.Bare()
	}
	if err := CheckPhoneSyntax(c.Phone); err != nil {
		return fmt.Errorf("%sphone: %w", prefix, err)
	}
	if err := checkText(prefix+"push_name", c.PushName, 256); err != nil {
		return err
	}
	return checkText(prefix+"full_name", c.FullName, 256)
}

func (g *GroupInput) validate() error {
	if err := checkText("group.subject", g.Subject, 1024); err != nil {
		return err
	}
	if err := checkText("group.description", g.Description, 4096); err != nil {
		return err
	}
	if g.OwnerJID != "" {
		if _, err := ParseJID(g.OwnerJID); err != nil {
			return fmt.Errorf("group.owner_jid: %w", err)
		}
	}
	if len(g.Participants) > 5000 {
		return errors.New("group.participants: more than 5000")
	}
	for i := range g.Participants {
		p := &g.Participants[i]
		j, err := ParseJID(p.JID)
		if err != nil || j.IsGroup() {
			return fmt.Errorf("group.participants[%d].jid: not a user JID", i)
		}
		p.JID = j.Bare()
		switch p.Role {
		case "":
			p.Role = RoleMember
		case RoleMember, RoleAdmin, RoleSuperAdmin:
		default:
			return fmt.Errorf("group.participants[%d].role: unknown", i)
		}
		if err := CheckPhoneSyntax(p.Phone); err != nil {
			return fmt.Errorf("group.participants[%d].phone: %w", i, err)
		}
		if p.AltJID != "" {
			if a, err := ParseJID(p.AltJID); err != nil || a.IsGroup() {
				return fmt.Errorf("group.participants[%d].alt_jid: not a user JID", i)
			}
		}
	}
	for i := range g.Changes {
		c := &g.Changes[i]
		j, err := ParseJID(c.JID)
		if err != nil || j.IsGroup() {
			return fmt.Errorf("group.participant_changes[%d].jid: not a user JID", i)
		}
		c.JID = j.Bare()
		switch c.Action {
		case ActionJoin, ActionLeave, ActionPromote, ActionDemote:
		default:
			return fmt.Errorf("group.participant_changes[%d].action: unknown", i)
		}
		if err := CheckPhoneSyntax(c.Phone); err != nil {
			return fmt.Errorf("group.participant_changes[%d].phone: %w", i, err)
		}
	}
	return nil
}

func (m *MessageInput) validate(now time.Time) error {
	if m.ID == "" || len(m.ID) > 128 {
		return errors.New("id: must be 1-128 characters")
	}
	if err := checkText("id", m.ID, 128); err != nil {
		return err
	}
	if m.Timestamp.IsZero() {
		return errors.New("timestamp: required")
	}
	if err := checkTime("timestamp", m.Timestamp, now); err != nil {
		return err
	}
	if m.SenderJID != "" {
		if _, err := ParseJID(m.SenderJID); err != nil {
			return fmt.Errorf("sender_jid: %w", err)
		}
	}
	if err := checkText("text", m.Text, MaxTextBytes); err != nil {
		return err
	}
	switch m.MediaType {
	case MediaNone, MediaImage, MediaVideo, MediaAudio, MediaDocument, MediaSticker, MediaLocation, MediaContact, MediaOther:
	default:
		return fmt.Errorf("media_type: %q is not a known media type", m.MediaType)
	}
	if m.EditTime != nil {
		if err := checkTime("edit_time", *m.EditTime, now); err != nil {
			return err
		}
	}
	if m.Status < StatusUnknown || m.Status > StatusPlayed {
		return fmt.Errorf("status: %d is not a message status", m.Status)
	}
	if m.Status != StatusUnknown && !m.FromMe {
		return errors.New("status: only messages from me have a status (set from_me)")
	}
	if m.IsUpdate() && m.Waiting {
		return errors.New("waiting: a placeholder cannot also be an edit, revoke or reaction")
	}
	if len(m.Reactions) > MaxReactionsPerMessage {
		return fmt.Errorf("reactions: more than %d", MaxReactionsPerMessage)
	}
	seen := make(map[string]bool, len(m.Reactions))
	for i := range m.Reactions {
		r := &m.Reactions[i]
		if r.SenderJID != "" {
			j, err := ParseJID(r.SenderJID)
			if err != nil {
				return fmt.Errorf("reactions[%d].sender_jid: %w", i, err)
			}
			r.SenderJID = j.Bare()
		}
		if seen[r.SenderJID] {
			return fmt.Errorf("reactions[%d].sender_jid: %q reacts twice in one report", i, r.SenderJID)
		}
		seen[r.SenderJID] = true
		if err := checkText(fmt.Sprintf("reactions[%d].emoji", i), r.Emoji, MaxReactionBytes); err != nil {
			return err
		}
		if r.Timestamp.IsZero() {
			return fmt.Errorf("reactions[%d].timestamp: required", i)
		}
		if err := checkTime(fmt.Sprintf("reactions[%d].timestamp", i), r.Timestamp, now); err != nil {
			return err
		}
	}
	return nil
}

// MaxReactionsPerMessage bounds the reactions of one report (a group has
// at most 1,024 members).
const MaxReactionsPerMessage = 1024

// CheckPhoneSyntax refuses what cannot be a phone number at all. Numbers
// that look like one but do not normalise to E.164 are accepted: the worker
// keeps them raw and flags them.
func CheckPhoneSyntax(p string) error {
	if len(p) > 32 {
		return errors.New("longer than 32 characters")
	}
	for _, r := range p {
		if !strings.ContainsRune("0123456789+-(). ", r) {
			return fmt.Errorf("character %q is not part of a phone number", r)
		}
	}
	return nil
}

func checkText(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s: longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		// PostgreSQL's text cannot hold U+0000; refused here, per chat,
		// rather than by the database, which would refuse its whole chunk.
		return fmt.Errorf("%s: contains a NUL character (U+0000)", field)
	}
	return nil
}

func checkTime(field string, t, now time.Time) error {
	if t.Before(minTimestamp) {
		return fmt.Errorf("%s: before 2009 (seconds vs milliseconds?)", field)
	}
	if t.After(now.Add(24 * time.Hour)) {
		return fmt.Errorf("%s: more than a day in the future", field)
	}
	return nil
}
