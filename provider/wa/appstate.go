package wa

import (
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
)

// App state: what the phone's chat list shows besides the messages
// (archived, pinned, muted, read or marked unread), synced by whatsmeow
// as app-state patches (events.Archive, Pin, Mute, MarkChatAsRead; with
// Client.EmitAppStateEventsOnFullSync also for the full sync after
// pairing), and receipts of my messages (events.Receipt). Each becomes a
// chat report carrying only the field it changes: the merge rules keep
// the rest (docs/architecture.md).

// stateChat is a report of the chat jid with no state set, or false when
// the JID is not a chat chatsync keeps (broadcast lists, newsletters).
func stateChat(j types.JID) (chatsync.ChatInput, bool) {
	jid := bareJID(j)
	switch {
	case jid == "":
		return chatsync.ChatInput{}, false
	case isGroup(jid):
		return chatsync.ChatInput{JID: jid, Type: chatsync.ChatGroup}, true
	case j.Server == types.DefaultUserServer || j.Server == types.HiddenUserServer:
		return chatsync.ChatInput{JID: jid, Type: chatsync.ChatPrivate}, true
	}
	return chatsync.ChatInput{}, false
}

// AppStateBatch turns an app-state change of a chat into a report of
// that chat's state; ErrNothingToSync for other events and other JIDs.
// Its kind is history when the change came from a full app-state sync.
func AppStateBatch(evt any) (chatsync.BatchPayload, chatsync.BatchKind, error) {
	var (
		j     types.JID
		full  bool
		apply func(*chatsync.ChatInput) bool
	)
	switch e := evt.(type) {
	case *events.Archive:
		j, full = e.JID, e.FromFullSync
		apply = func(c *chatsync.ChatInput) bool {
			if e.Action == nil {
				return false
			}
			c.Archived = new(e.Action.GetArchived())
			return true
		}
	case *events.Pin:
		j, full = e.JID, e.FromFullSync
		apply = func(c *chatsync.ChatInput) bool {
			if e.Action == nil {
				return false
			}
			c.Pinned = new(e.Action.GetPinned())
			return true
		}
	case *events.Mute:
		j, full = e.JID, e.FromFullSync
		apply = func(c *chatsync.ChatInput) bool {
			if e.Action == nil {
				return false
			}
			c.MutedUntil = new(mutedUntil(e.Action.GetMuted(), e.Action.GetMuteEndTimestamp()))
			return true
		}
	case *events.MarkChatAsRead:
		j, full = e.JID, e.FromFullSync
		apply = func(c *chatsync.ChatInput) bool {
			if e.Action == nil {
				return false
			}
			if e.Action.GetRead() {
				c.UnreadCount, c.MarkedUnread = new(int32(0)), new(false)
			} else {
				// Marked unread: the dot; the count stays what it is.
				c.MarkedUnread = new(true)
			}
			return true
		}
	default:
		return chatsync.BatchPayload{}, "", ErrNothingToSync
	}
	c, ok := stateChat(j)
	if !ok || !apply(&c) {
		return chatsync.BatchPayload{}, "", ErrNothingToSync
	}
	kind := chatsync.BatchLive
	if full {
		kind = chatsync.BatchHistory
	}
	return chatsync.BatchPayload{Chats: []chatsync.ChatInput{c}}, kind, nil
}

// mutedUntil is a MuteAction's end: WhatsApp sends milliseconds, -1 (or
// nothing) for "forever"; not muted is the Unix epoch (a past time
// unmutes).
func mutedUntil(muted bool, endMillis int64) time.Time {
	switch {
	case !muted:
		return time.Unix(0, 0).UTC()
	case endMillis <= 0:
		return chatsync.MutedForever
	}
	if t := time.UnixMilli(endMillis).UTC(); t.Before(chatsync.MutedForever) {
		return t
	}
	return chatsync.MutedForever
}

// ReceiptBatch turns a receipt into reports. A receipt from the other
// person of a private chat moves my messages to delivered, read or played
// (group receipts are per member and are not kept: a group message is
// not "read" until everyone has read it, which the phone does not send).
// My own read receipt from another of my devices (read-self) means I read
// the chat on the phone: its unread count goes to 0.
func ReceiptBatch(evt *events.Receipt) (chatsync.BatchPayload, error) {
	c, ok := stateChat(evt.Chat)
	if !ok || len(evt.MessageIDs) == 0 {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	at := evt.Timestamp.UTC()
	if at.IsZero() {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	if evt.Type == types.ReceiptTypeReadSelf {
		c.UnreadCount, c.MarkedUnread = new(int32(0)), new(false)
		return chatsync.BatchPayload{Chats: []chatsync.ChatInput{c}}, nil
	}
	if evt.IsFromMe || evt.IsGroup || c.Type != chatsync.ChatPrivate {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	var st chatsync.MessageStatus
	switch evt.Type {
	case types.ReceiptTypeDelivered:
		st = chatsync.StatusDelivered
	case types.ReceiptTypeRead:
		st = chatsync.StatusRead
	case types.ReceiptTypePlayed:
		st = chatsync.StatusPlayed
	default: // retries, server errors, inactive, history-sync receipts
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	for _, id := range evt.MessageIDs {
		if id == "" {
			continue
		}
		// The time a receipt gives is the receipt's; it only stands in
		// for the message's own until the message is stored.
		c.Messages = append(c.Messages, chatsync.MessageInput{ID: id, FromMe: true, Timestamp: at, Status: st})
	}
	if len(c.Messages) == 0 {
		return chatsync.BatchPayload{}, ErrNothingToSync
	}
	return chatsync.BatchPayload{Chats: []chatsync.ChatInput{c}}, nil
}
