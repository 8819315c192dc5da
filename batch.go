package chatsync

import "time"

// Batch limits of DESIGN.md: at most MaxBatchChats chats and MaxBatchBytes
// bytes per SyncBatch call.
const (
	MaxBatchChats    = 500
	MaxBatchBytes    = 8 << 20
	MaxBatchContacts = 5000
	MaxChatMessages  = 1000
	MaxTextBytes     = 64 << 10
	MaxPreviewRunes  = 160
)

// BatchPayload is what a provider pushed: the accepted chats and contacts of
// one SyncBatch call. It is stored as JSON in sync_batches.payload, so field
// names are short and stable.
type BatchPayload struct {
	Chats    []ChatInput    `json:"chats,omitempty"`
	Contacts []ContactInput `json:"contacts,omitempty"`
}

// ContactInput is a person as a provider sees them.
type ContactInput struct {
	JID      string `json:"jid,omitempty"`
	Phone    string `json:"phone,omitempty"`
	PushName string `json:"push_name,omitempty"`
	FullName string `json:"full_name,omitempty"`
	// AltJID is the same person's other identity: their LID when JID is a
	// phone JID, or their phone JID when JID is a LID.
	AltJID string `json:"alt_jid,omitempty"`
}

// ParticipantInput is one group member as a provider sees them.
type ParticipantInput struct {
	JID    string `json:"jid"`
	Phone  string `json:"phone,omitempty"`
	Role   Role   `json:"role,omitempty"`
	AltJID string `json:"alt_jid,omitempty"`
}

// ParticipantChange is one membership change of a group.
type ParticipantChange struct {
	JID    string            `json:"jid"`
	Action ParticipantAction `json:"action"`
	Phone  string            `json:"phone,omitempty"`
}

// GroupInput is group metadata for a group chat.
type GroupInput struct {
	Subject     string `json:"subject,omitempty"`
	Description string `json:"description,omitempty"`
	OwnerJID    string `json:"owner_jid,omitempty"`
	// Participants, when non-empty, is the complete member list.
	Participants []ParticipantInput  `json:"participants,omitempty"`
	Changes      []ParticipantChange `json:"changes,omitempty"`
}

// MessageInput is one message as a provider sees it.
type MessageInput struct {
	ID        string    `json:"id"`
	SenderJID string    `json:"sender_jid,omitempty"`
	FromMe    bool      `json:"from_me,omitempty"`
	Timestamp time.Time `json:"ts"`
	Text      string    `json:"text,omitempty"`
	MediaType MediaType `json:"media,omitempty"`
	// Waiting marks a placeholder: WhatsApp delivered the message but it
	// could not be decrypted yet. It has no content; the real message,
	// reported later under the same ID, replaces it.
	Waiting bool `json:"waiting,omitempty"`
	// EditTime, Revoked and Reactions report a change of the stored message
	// with this ID (see IsUpdate): an edit (Text is the new text as of
	// EditTime), a revoke, reactions. Such a report may come before the
	// message; the store keeps it until the message lands.
	EditTime  *time.Time      `json:"edit_time,omitempty"`
	Revoked   bool            `json:"revoked,omitempty"`
	Reactions []ReactionInput `json:"reactions,omitempty"`
	// Status of a message from me as of this report; it never moves a
	// stored status backwards. With no text and no media it is a receipt
	// (see IsUpdate); on a message with content, the message and its
	// status.
	Status MessageStatus `json:"status,omitempty"`
}

// IsUpdate reports whether the report changes a message (an edit, a
// revoke, reactions, or a receipt: a status without content) rather than
// being the message itself.
func (m *MessageInput) IsUpdate() bool {
	return m.EditTime != nil || m.Revoked || len(m.Reactions) > 0 || m.IsReceipt()
}

// IsReceipt reports whether the report is a status alone: the message's
// ID with a status, no text, no media, no other change.
func (m *MessageInput) IsReceipt() bool {
	return m.Status != StatusUnknown && m.Text == "" && m.MediaType == MediaNone && !m.Waiting &&
		m.EditTime == nil && !m.Revoked && len(m.Reactions) == 0
}

// ReactionInput is one sender's reaction; an empty Emoji removes the
// sender's reaction.
type ReactionInput struct {
	SenderJID string    `json:"sender_jid,omitempty"`
	Emoji     string    `json:"emoji,omitempty"`
	Timestamp time.Time `json:"ts"`
}

// MaxReactionBytes bounds a reaction's emoji (WhatsApp's are one emoji
// with modifiers: a few dozen bytes at most).
const MaxReactionBytes = 64

// ChatInput is one chat as a provider sees it. The state fields are
// pointers: nil means the report does not know them (a live message), and
// the stored value is kept; see docs/architecture.md, "Merge rules".
type ChatInput struct {
	JID  string   `json:"jid"`
	Type ChatType `json:"type"`
	// Name, when non-empty, replaces the stored name; empty keeps it.
	Name string `json:"name,omitempty"`
	// UnreadCount is the phone's count; nil raises the stored count by one
	// for each new message not from me.
	UnreadCount *int32 `json:"unread,omitempty"`
	Archived    *bool  `json:"archived,omitempty"`
	Pinned      *bool  `json:"pinned,omitempty"`
	// MutedUntil is when the phone's mute ends (MutedForever for none); a
	// time in the past unmutes.
	MutedUntil *time.Time `json:"muted_until,omitempty"`
	// MarkedUnread: marked as unread on the phone (the dot, no count).
	MarkedUnread *bool          `json:"marked_unread,omitempty"`
	LastActivity time.Time      `json:"last_activity,omitzero"`
	Contact      *ContactInput  `json:"contact,omitempty"`
	Group        *GroupInput    `json:"group,omitempty"`
	Messages     []MessageInput `json:"messages,omitempty"`
}

// Batch is the durable record of an accepted batch (a sync_batches row).
type Batch struct {
	ID            int64 // internal primary key
	WorkspaceID   int64
	SessionID     int64
	BatchID       string // the caller's ID, unique per session
	Kind          BatchKind
	Status        BatchStatus
	AcceptedCount int32
	Rejected      []RejectedChat
	WrittenCount  int32
	FailedChats   []FailedChat
	Attempts      int32
	LastError     string
	CreatedAt     time.Time
	StartedAt     time.Time
	FinishedAt    time.Time
}

// RejectedChat is a chat refused at acceptance.
type RejectedChat struct {
	Index  int32  `json:"index"`
	JID    string `json:"jid"`
	Reason string `json:"reason"`
	// Contact marks an entry of the batch's contacts (Index into them)
	// rather than of its chats.
	Contact bool `json:"contact,omitempty"`
}

// FailedChat is an accepted chat whose chunk could not be written.
type FailedChat struct {
	JID    string `json:"jid"`
	Reason string `json:"reason"`
}
