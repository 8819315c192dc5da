package wa

import (
	"cmp"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
)

// MessageBatch turns a live message into a payload of one chat holding it.
// group, when not nil, is the group's current metadata; its subject and full
// participant list (with roles and LID↔phone pairs) go into the chat. The
// sender's LID↔phone pair (Info.SenderAlt, or Info.RecipientAlt for our own
// messages in a private chat) is carried as a contact, and private chats are
// keyed on the phone JID when it is known.
func MessageBatch(evt *events.Message, group *types.GroupInfo, now time.Time) (chatsync.BatchPayload, error) {
	info := evt.Info
	msg := evt.Message
	if msg == nil {
		msg = unwrap(evt.RawMessage)
	}
	if info.ID == "" {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	reactor := ""
	if !info.IsFromMe {
		reactor = bareJID(info.Sender)
	}
	if u, ok := change(msg, info.Timestamp.UTC(), reactor, now); ok {
		return messagePayload(info, "", chatsync.MediaNone, false, group, now, &u)
	}
	text, media, ok := content(msg)
	if !ok {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	return messagePayload(info, text, media, false, group, now, nil)
}

// UndecryptableBatch turns a message whatsmeow could not decrypt into a
// placeholder (MessageInput.Waiting) in its chat, so it is not invisible:
// whatsmeow asks the sender's device to send it again, and the message,
// when it comes as an events.Message with the same ID, replaces the
// placeholder. Messages WhatsApp asks to hide (DecryptFailHide: reactions,
// edits and the like, whose failure the phone does not show either) and
// view-once messages this device never gets are not synced.
func UndecryptableBatch(evt *events.UndecryptableMessage, now time.Time) (chatsync.BatchPayload, error) {
	if evt.DecryptFailMode == events.DecryptFailHide || evt.UnavailableType == events.UnavailableTypeViewOnce || evt.Info.ID == "" {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	return messagePayload(evt.Info, "", chatsync.MediaNone, true, nil, now, nil)
}

// messagePayload is the payload of one message of a chat; with upd, of a
// change (an edit, a revoke, a reaction) the message info carries, which
// does not move the chat's activity.
func messagePayload(info types.MessageInfo, text string, media chatsync.MediaType, waiting bool, group *types.GroupInfo, now time.Time, upd *chatsync.MessageInput) (chatsync.BatchPayload, error) {
	chatJID := info.Chat
	if chatJID.Server == types.BroadcastServer {
		// A broadcast list message shows up in the sender's private chat;
		// status updates and our own broadcasts are not chat messages.
		if info.IsFromMe || chatJID == types.StatusBroadcastJID {
			return chatsync.BatchPayload{}, ErrNothingToSync
		}
		chatJID = info.Sender.ToNonAD()
	}
	jid := bareJID(chatJID)
	if jid == "" {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	m := chatsync.MessageInput{
		ID:        info.ID,
		SenderJID: bareJID(info.Sender),
		FromMe:    info.IsFromMe,
		Timestamp: info.Timestamp.UTC(),
		Text:      text,
		MediaType: media,
		Waiting:   waiting,
	}
	chat := chatsync.ChatInput{JID: jid, LastActivity: m.Timestamp}
	var p chatsync.BatchPayload
	if isGroup(jid) {
		chat.Type = chatsync.ChatGroup
		if group != nil {
			chat.Group = groupInput(group)
			chat.Name = chat.Group.Subject
		}
		if c, ok := senderContact(info); ok {
			p.Contacts = append(p.Contacts, c)
		}
	} else {
		alt := info.SenderAlt
		if info.IsFromMe {
			alt = info.RecipientAlt
		}
		primary, secondary := preferPhone(jid, bareJID(alt))
		chat.JID, chat.Type = primary, chatsync.ChatPrivate
		chat.Contact = &chatsync.ContactInput{JID: primary, AltJID: secondary, Phone: phoneOfPair(primary, secondary)}
		if !info.IsFromMe {
			chat.Contact.PushName = cleanText(info.PushName, maxPushNameBytes)
			m.SenderJID = primary
		}
	}
	if upd != nil {
		sender := m.SenderJID
		m.ID, m.Text, m.EditTime, m.Revoked, m.Reactions = upd.ID, upd.Text, upd.EditTime, upd.Revoked, upd.Reactions
		for i := range m.Reactions {
			if !m.FromMe {
				m.Reactions[i].SenderJID = sender
			}
		}
		chat.LastActivity = time.Time{}
	}
	chat.Messages = []chatsync.MessageInput{m}
	if err := chat.Validate(now); err != nil {
		return chatsync.BatchPayload{}, fmt.Errorf("message %s: %w", info.ID, err)
	}
	p.Chats = []chatsync.ChatInput{chat}
	return p, nil
}

// senderContact is the sender of a group message as a contact, when the
// message tells us something about them: their push name or their other JID.
func senderContact(info types.MessageInfo) (chatsync.ContactInput, bool) {
	sender := bareJID(info.Sender)
	if sender == "" || info.IsFromMe {
		return chatsync.ContactInput{}, false
	}
	primary, secondary := preferPhone(sender, bareJID(info.SenderAlt))
	c := chatsync.ContactInput{
		JID:      primary,
		AltJID:   secondary,
		Phone:    phoneOfPair(primary, secondary),
		PushName: cleanText(info.PushName, maxPushNameBytes),
	}
	if c.AltJID == "" && c.PushName == "" {
		return chatsync.ContactInput{}, false
	}
	if c.Validate("contact.") != nil {
		return chatsync.ContactInput{}, false
	}
	return c, true
}

// groupInput is a group's metadata with its complete participant list.
func groupInput(g *types.GroupInfo) *chatsync.GroupInput {
	gi := &chatsync.GroupInput{
		Subject:  cleanText(g.Name, maxNameBytes),
		OwnerJID: bareJID(g.OwnerJID),
	}
	if !g.TopicDeleted {
		gi.Description = cleanText(g.Topic, maxDescriptionBytes)
	}
	seen := make(map[string]bool, len(g.Participants))
	for _, p := range g.Participants {
		j := bareJID(p.JID)
		if j == "" || isGroup(j) || seen[j] || p.Error != 0 {
			continue // Error is set for members a create or add failed for
		}
		seen[j] = true
		alt := altOf(j, bareJID(p.LID))
		if alt == "" {
			alt = altOf(j, bareJID(p.PhoneNumber))
		}
		gi.Participants = append(gi.Participants, chatsync.ParticipantInput{
			JID:    j,
			AltJID: alt,
			Phone:  phoneOfPair(j, alt),
			Role:   participantRole(p),
		})
	}
	return gi
}

func participantRole(p types.GroupParticipant) chatsync.Role {
	switch {
	case p.IsSuperAdmin:
		return chatsync.RoleSuperAdmin
	case p.IsAdmin:
		return chatsync.RoleAdmin
	default:
		return chatsync.RoleMember
	}
}

// GroupInfoBatch turns a group change into a payload of one group chat with
// the new subject and description and the membership changes (join, leave,
// promote, demote). Settings changes (locked, announce, ephemeral, links) and
// description deletion have no place in chatsync's model and give
// ErrNothingToSync when nothing else changed.
func GroupInfoBatch(evt *events.GroupInfo, now time.Time) (chatsync.BatchPayload, error) {
	jid := bareJID(evt.JID)
	if !isGroup(jid) {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	g := &chatsync.GroupInput{}
	chat := chatsync.ChatInput{JID: jid, Type: chatsync.ChatGroup, Group: g}
	if evt.Name != nil {
		g.Subject = cleanText(evt.Name.Name, maxNameBytes)
		chat.Name = g.Subject
	}
	if evt.Topic != nil && !evt.Topic.TopicDeleted {
		g.Description = cleanText(evt.Topic.Topic, maxDescriptionBytes)
	}
	for _, ch := range []struct {
		jids   []types.JID
		action chatsync.ParticipantAction
	}{
		{evt.Join, chatsync.ActionJoin},
		{evt.Leave, chatsync.ActionLeave},
		{evt.Promote, chatsync.ActionPromote},
		{evt.Demote, chatsync.ActionDemote},
	} {
		for _, j := range ch.jids {
			b := bareJID(j)
			if b == "" || isGroup(b) {
				continue
			}
			g.Changes = append(g.Changes, chatsync.ParticipantChange{JID: b, Action: ch.action, Phone: phoneOf(b)})
		}
	}
	if g.Subject == "" && g.Description == "" && len(g.Changes) == 0 {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	if err := chat.Validate(now); err != nil {
		return chatsync.BatchPayload{}, fmt.Errorf("group %s: %w", jid, err)
	}
	p := chatsync.BatchPayload{Chats: []chatsync.ChatInput{chat}}
	if c, ok := pairContact(evt.Sender, evt.SenderPN); ok {
		p.Contacts = append(p.Contacts, c)
	}
	return p, nil
}

// JoinedGroupBatch turns joining (or being added to) a group into a payload
// of the whole group: subject, description, owner and every participant with
// their role.
func JoinedGroupBatch(evt *events.JoinedGroup, now time.Time) (chatsync.BatchPayload, error) {
	jid := bareJID(evt.JID)
	if !isGroup(jid) {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	g := groupInput(&evt.GroupInfo)
	chat := chatsync.ChatInput{JID: jid, Type: chatsync.ChatGroup, Name: g.Subject, Group: g}
	if err := chat.Validate(now); err != nil {
		return chatsync.BatchPayload{}, fmt.Errorf("group %s: %w", jid, err)
	}
	p := chatsync.BatchPayload{Chats: []chatsync.ChatInput{chat}}
	if c, ok := pairContact(evt.Sender, evt.SenderPN); ok {
		p.Contacts = append(p.Contacts, c)
	}
	return p, nil
}

// pairContact is a contact for a user whose LID and phone JID an event gives
// side by side (a group change's Sender and SenderPN).
func pairContact(a, b *types.JID) (chatsync.ContactInput, bool) {
	if a == nil || b == nil {
		return chatsync.ContactInput{}, false
	}
	primary, secondary := preferPhone(bareJID(*a), bareJID(*b))
	if secondary == "" {
		return chatsync.ContactInput{}, false
	}
	c := chatsync.ContactInput{JID: primary, AltJID: secondary, Phone: phoneOf(primary)}
	return c, c.Validate("contact.") == nil
}

// ContactBatch turns an address book change (app state) into a contact with
// the saved name and, when the action carries it, the other JID.
func ContactBatch(evt *events.Contact) (chatsync.BatchPayload, error) {
	jid := bareJID(evt.JID)
	if jid == "" || isGroup(jid) || evt.Action == nil {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	act := evt.Action
	alt := bareJIDString(act.GetLidJID())
	if isLID(jid) {
		alt = bareJIDString(act.GetPnJID())
	}
	primary, secondary := preferPhone(jid, alt)
	c := chatsync.ContactInput{
		JID:      primary,
		AltJID:   secondary,
		Phone:    phoneOfPair(primary, secondary),
		FullName: cleanText(cmp.Or(act.GetFullName(), act.GetFirstName()), maxPushNameBytes),
	}
	if c.FullName == "" && c.AltJID == "" {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	if err := c.Validate("contact."); err != nil {
		return chatsync.BatchPayload{}, fmt.Errorf("contact %s: %w", jid, err)
	}
	return chatsync.BatchPayload{Contacts: []chatsync.ContactInput{c}}, nil
}

// PushNameBatch turns a push name change into a contact with the new name
// and, when whatsmeow knows it (JIDAlt), the other JID.
func PushNameBatch(evt *events.PushName) (chatsync.BatchPayload, error) {
	jid := bareJID(evt.JID)
	if jid == "" || isGroup(jid) {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	primary, secondary := preferPhone(jid, bareJID(evt.JIDAlt))
	c := chatsync.ContactInput{
		JID:      primary,
		AltJID:   secondary,
		Phone:    phoneOfPair(primary, secondary),
		PushName: cleanText(evt.NewPushName, maxPushNameBytes),
	}
	if c.PushName == "" && c.AltJID == "" {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	if err := c.Validate("contact."); err != nil {
		return chatsync.BatchPayload{}, fmt.Errorf("contact %s: %w", jid, err)
	}
	return chatsync.BatchPayload{Contacts: []chatsync.ContactInput{c}}, nil
}
