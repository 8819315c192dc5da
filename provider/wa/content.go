package wa

import (
	"strings"
	"time"
	"unicode/utf8"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/chatsync/chatsync"
)

// Text limits of chatsync's validation; longer text is cut, not refused, so
// one long message never costs a whole chat.
const (
	maxNameBytes        = 1024
	maxDescriptionBytes = 4096
	maxPushNameBytes    = 256
)

// content returns the text and media type of a message that is already
// unwrapped (events.Message.UnwrapRaw). ok is false for messages that are not
// something a person sees in the chat: reactions, receipts of polls, protocol
// messages (revokes, edits, key shares, history sync notifications) and
// empty messages.
func content(m *waE2E.Message) (text string, media chatsync.MediaType, ok bool) {
	if m == nil {
		return "", chatsync.MediaNone, false
	}
	switch {
	case m.GetConversation() != "":
		return cleanText(m.GetConversation(), chatsync.MaxTextBytes), chatsync.MediaNone, true
	case m.GetExtendedTextMessage() != nil:
		return cleanText(m.GetExtendedTextMessage().GetText(), chatsync.MaxTextBytes), chatsync.MediaNone, true
	case m.GetImageMessage() != nil:
		return cleanText(m.GetImageMessage().GetCaption(), chatsync.MaxTextBytes), chatsync.MediaImage, true
	case m.GetVideoMessage() != nil:
		return cleanText(m.GetVideoMessage().GetCaption(), chatsync.MaxTextBytes), chatsync.MediaVideo, true
	case m.GetPtvMessage() != nil:
		return cleanText(m.GetPtvMessage().GetCaption(), chatsync.MaxTextBytes), chatsync.MediaVideo, true
	case m.GetAudioMessage() != nil:
		return "", chatsync.MediaAudio, true
	case m.GetDocumentMessage() != nil:
		return cleanText(m.GetDocumentMessage().GetCaption(), chatsync.MaxTextBytes), chatsync.MediaDocument, true
	case m.GetStickerMessage() != nil:
		return "", chatsync.MediaSticker, true
	case m.GetLocationMessage() != nil:
		return cleanText(m.GetLocationMessage().GetComment(), chatsync.MaxTextBytes), chatsync.MediaLocation, true
	case m.GetLiveLocationMessage() != nil:
		return cleanText(m.GetLiveLocationMessage().GetCaption(), chatsync.MaxTextBytes), chatsync.MediaLocation, true
	case m.GetContactMessage() != nil:
		return cleanText(m.GetContactMessage().GetDisplayName(), chatsync.MaxTextBytes), chatsync.MediaContact, true
	case m.GetContactsArrayMessage() != nil:
		return cleanText(m.GetContactsArrayMessage().GetDisplayName(), chatsync.MaxTextBytes), chatsync.MediaContact, true
	}
	if p := poll(m); p != nil {
		return cleanText(p.GetName(), chatsync.MaxTextBytes), chatsync.MediaOther, true
	}
	if hasVisibleContent(m) {
		return "", chatsync.MediaOther, true
	}
	return "", chatsync.MediaNone, false
}

func poll(m *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{
		m.GetPollCreationMessage(), m.GetPollCreationMessageV2(),
		m.GetPollCreationMessageV3(), m.GetPollCreationMessageV5(),
	} {
		if p != nil {
			return p
		}
	}
	return nil
}

// hasVisibleContent reports whether m sets any field other than the ones that
// never show up as a message of their own. New content types WhatsApp adds
// land here and are kept as "other" rather than lost.
func hasVisibleContent(m *waE2E.Message) bool {
	visible := false
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		if !invisibleField(fd.Name()) {
			visible = true
			return false
		}
		return true
	})
	return visible
}

func invisibleField(name protoreflect.Name) bool {
	switch name {
	case "conversation", // empty text: no content
		"messageContextInfo",
		"senderKeyDistributionMessage",
		"fastRatchetKeySenderKeyDistributionMessage",
		"protocolMessage",
		"reactionMessage",
		"encReactionMessage",
		"pollUpdateMessage",
		"encEventResponseMessage",
		"keepInChatMessage",
		"pinInChatMessage",
		"messageHistoryBundle",
		"messageHistoryNotice",
		"placeholderMessage",
		"secretEncryptedMessage",
		"stickerSyncRmrMessage",
		"call",
		"chat",
		// wrappers that UnwrapRaw already opened; an empty one is no content
		"deviceSentMessage",
		"ephemeralMessage",
		"viewOnceMessage",
		"viewOnceMessageV2",
		"viewOnceMessageV2Extension",
		"documentWithCaptionMessage",
		"editedMessage",
		"botInvokeMessage",
		"lottieStickerMessage":
		return true
	}
	return false
}

// cleanText makes s valid UTF-8 and cuts it to at most max bytes on a rune
// boundary.
func cleanText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// unwrap opens the wrappers (device-sent, ephemeral, view-once, edited, …)
// around a raw message the way whatsmeow does for live messages.
func unwrap(raw *waE2E.Message) *waE2E.Message {
	if raw == nil {
		return nil
	}
	return (&events.Message{RawMessage: raw}).UnwrapRaw().Message
}

// plausible reports whether t can be a message or activity time: validation
// refuses times before 2009 and more than a day ahead of now.
func plausible(t, now time.Time) bool {
	return !t.IsZero() && t.Unix() >= minUnix && !t.After(now.Add(24*time.Hour))
}

// minUnix mirrors chatsync's lower bound: 2009-01-01T00:00:00Z, the year
// WhatsApp launched.
const minUnix = 1230768000

// unixSeconds turns a WhatsApp seconds timestamp into a time; 0 is zero time.
func unixSeconds(s uint64) time.Time {
	if s == 0 || s > 1<<40 {
		return time.Time{}
	}
	return time.Unix(int64(s), 0).UTC()
}

// change translates an edit or a revoke (a protocol message) or a reaction
// into a change report of the message it targets (MessageInput.IsUpdate),
// dated at (the message that carries it). reactor is who reacted ("" for
// the session's own account). ok is false for any other message.
func change(m *waE2E.Message, at time.Time, reactor string, now time.Time) (chatsync.MessageInput, bool) {
	if pm := m.GetProtocolMessage(); pm != nil {
		target := pm.GetKey().GetID()
		if !validID(target) {
			return chatsync.MessageInput{}, false
		}
		switch pm.GetType() {
		case waE2E.ProtocolMessage_REVOKE:
			return chatsync.MessageInput{ID: target, Timestamp: at, Revoked: true}, true
		case waE2E.ProtocolMessage_MESSAGE_EDIT:
			text, _, ok := content(unwrap(pm.GetEditedMessage()))
			if !ok {
				return chatsync.MessageInput{}, false
			}
			edited := at
			if t := time.UnixMilli(pm.GetTimestampMS()).UTC(); pm.GetTimestampMS() > 0 && plausible(t, now) {
				edited = t
			}
			return chatsync.MessageInput{ID: target, Timestamp: at, Text: text, EditTime: &edited}, true
		}
		return chatsync.MessageInput{}, false
	}
	if rm := m.GetReactionMessage(); rm != nil {
		target := rm.GetKey().GetID()
		if !validID(target) {
			return chatsync.MessageInput{}, false
		}
		return chatsync.MessageInput{ID: target, Timestamp: at, Reactions: []chatsync.ReactionInput{
			{SenderJID: reactor, Emoji: cleanText(rm.GetText(), chatsync.MaxReactionBytes), Timestamp: reactionTime(rm.GetSenderTimestampMS(), at, now)},
		}}, true
	}
	return chatsync.MessageInput{}, false
}

// reactionTime is the sender's time of a reaction, or at when it is not
// plausible.
func reactionTime(ms int64, at, now time.Time) time.Time {
	if t := time.UnixMilli(ms).UTC(); ms > 0 && plausible(t, now) {
		return t
	}
	return at
}

func validID(id string) bool { return id != "" && len(id) <= 128 }
