// Package chatsync holds the domain types shared by the server, the worker
// and the store: workspaces, sessions, chats, messages, sync batches and the
// events published when they change. It depends on the standard library only.
package chatsync

import "time"

// Provider is the integration that runs a session.
type Provider string

// Providers.
const (
	ProviderWhatsmeow Provider = "whatsmeow"
	ProviderWebJS     Provider = "webjs"
	ProviderMetaCloud Provider = "meta_cloud"
)

// Valid reports whether p is a known provider.
func (p Provider) Valid() bool {
	return p == ProviderWhatsmeow || p == ProviderWebJS || p == ProviderMetaCloud
}

// SessionStatus is the connection state of a session.
type SessionStatus string

// Session statuses.
const (
	SessionPending        SessionStatus = "pending"
	SessionPairing        SessionStatus = "pairing"
	SessionConnected      SessionStatus = "connected"
	SessionDisconnected   SessionStatus = "disconnected"
	SessionLoggedOut      SessionStatus = "logged_out"
	SessionBanned         SessionStatus = "banned"
	SessionStreamReplaced SessionStatus = "stream_replaced"
)

// SyncStatus is the synchronisation state of a session.
type SyncStatus string

// Sync statuses.
const (
	SyncPending SyncStatus = "pending"
	SyncSyncing SyncStatus = "syncing"
	SyncSynced  SyncStatus = "synced"
	SyncFailed  SyncStatus = "failed"
)

// BatchKind chooses the queue a batch is processed on.
type BatchKind string

// Batch kinds.
const (
	BatchHistory BatchKind = "history"
	BatchLive    BatchKind = "live"
)

// BatchStatus is the processing state of an accepted batch.
type BatchStatus string

// Batch statuses.
const (
	BatchQueued     BatchStatus = "queued"
	BatchProcessing BatchStatus = "processing"
	BatchCompleted  BatchStatus = "completed"
	BatchFailed     BatchStatus = "failed"
)

// ChatType says whether a chat is one-to-one or a group.
type ChatType string

// Chat types.
const (
	ChatPrivate ChatType = "private"
	ChatGroup   ChatType = "group"
)

// Role is a member's role in a group.
type Role string

// Roles.
const (
	RoleMember     Role = "member"
	RoleAdmin      Role = "admin"
	RoleSuperAdmin Role = "superadmin"
)

// MediaType is the kind of attachment a message carries; empty for text.
type MediaType string

// Media types.
const (
	MediaNone     MediaType = ""
	MediaImage    MediaType = "image"
	MediaVideo    MediaType = "video"
	MediaAudio    MediaType = "audio"
	MediaDocument MediaType = "document"
	MediaSticker  MediaType = "sticker"
	MediaLocation MediaType = "location"
	MediaContact  MediaType = "contact"
	MediaOther    MediaType = "other"
)

// MessageStatus is how far a message from me has got; it only moves
// forward, so the order of the constants is the order of the states.
type MessageStatus int8

// Message statuses.
const (
	StatusUnknown   MessageStatus = iota // not from me, or no receipt
	StatusSent                           // the server has it
	StatusDelivered                      // on the recipient's phone
	StatusRead                           // read (in a group: by everyone)
	StatusPlayed                         // a voice note or video played
)

// MutedForever is the muted_until of a chat muted with no end.
var MutedForever = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// ParticipantAction is a change of group membership.
type ParticipantAction string

// Participant actions.
const (
	ActionJoin    ParticipantAction = "join"
	ActionLeave   ParticipantAction = "leave"
	ActionPromote ParticipantAction = "promote"
	ActionDemote  ParticipantAction = "demote"
)

// Workspace is a tenant: everything else belongs to exactly one.
type Workspace struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// SyncConfig limits what a session's provider sends as history.
type SyncConfig struct {
	MaxChats       int32 `json:"max_chats,omitempty"`
	SyncWindowDays int32 `json:"sync_window_days,omitempty"`
	// RatePerMinute overrides the server's SyncBatch rate for the session; 0
	// keeps the server default.
	RatePerMinute int32 `json:"rate_per_minute,omitempty"`
	// MessagesPerChat is how many of each chat's newest messages a sidecar
	// reads in a history sync; 0 means DefaultMessagesPerChat.
	MessagesPerChat int32 `json:"messages_per_chat,omitempty"`
}

// DefaultMessagesPerChat is what a sidecar reads of each chat when the
// session's sync config does not say: enough to read a conversation, few
// enough that a sync of thousands of chats stays within the sidecar's
// memory (docs/decisions.md).
const DefaultMessagesPerChat = 100

// SidecarState is what a sidecar last reported of its WhatsApp client.
type SidecarState string

// Sidecar states.
const (
	SidecarStarting      SidecarState = "starting"
	SidecarQRWanted      SidecarState = "qr_wanted"
	SidecarAuthenticated SidecarState = "authenticated"
	SidecarReady         SidecarState = "ready"
	SidecarUnreachable   SidecarState = "unreachable"
	SidecarLoggedOut     SidecarState = "logged_out"
)

// SidecarStatus is a sidecar's last report; State is empty before the
// first.
type SidecarStatus struct {
	State      SidecarState
	LastError  string
	ReportedAt time.Time
}

// Session is one WhatsApp account linked to a workspace.
type Session struct {
	ID                int64
	WorkspaceID       int64
	DisplayName       string
	Provider          Provider
	Status            SessionStatus
	JID               string
	PushName          string
	SyncConfig        SyncConfig
	SyncStatus        SyncStatus
	LastSyncAt        time.Time // zero before the first batch
	TotalSynced       int64
	LastError         string
	Backup            bool
	BanExpireAt       time.Time
	MetaPhoneNumberID string
	Sidecar           SidecarStatus
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// ChatView is a chat as clients see it: the chat row joined with its
// session, contact and group.
type ChatView struct {
	ID                 int64     `json:"id"`
	WorkspaceID        int64     `json:"workspace_id"`
	SessionID          int64     `json:"session_id"`
	SessionName        string    `json:"session_name,omitempty"`
	Provider           Provider  `json:"provider,omitempty"`
	JID                string    `json:"jid"`
	Type               ChatType  `json:"type"`
	Name               string    `json:"name,omitempty"`
	Phone              string    `json:"phone,omitempty"`
	ContactName        string    `json:"contact_name,omitempty"`
	Description        string    `json:"description,omitempty"`
	ParticipantCount   int32     `json:"participant_count,omitempty"`
	UnreadCount        int32     `json:"unread_count,omitempty"`
	LastActivityAt     time.Time `json:"last_activity_at"`
	LastMessagePreview string    `json:"last_message_preview,omitempty"`
	Archived           bool      `json:"archived,omitempty"`
	Pinned             bool      `json:"pinned,omitempty"`
	// MutedUntil is when the mute ends; zero when not muted (or the mute
	// has ended).
	MutedUntil time.Time `json:"muted_until,omitzero"`
	// MarkedUnread: marked as unread on the phone (the dot, no count).
	MarkedUnread bool `json:"marked_unread,omitempty"`
}

// Participant is one member of a group chat.
type Participant struct {
	JID   string `json:"jid"`
	Phone string `json:"phone,omitempty"`
	Role  Role   `json:"role"`
	Name  string `json:"name,omitempty"`
}

// Message is one stored WhatsApp message.
type Message struct {
	ID        int64     `json:"id"`
	ChatID    int64     `json:"chat_id"`
	WAID      string    `json:"wa_id"`
	SenderJID string    `json:"sender_jid,omitempty"`
	FromMe    bool      `json:"from_me,omitempty"`
	SentAt    time.Time `json:"sent_at"`
	Text      string    `json:"text,omitempty"`
	MediaType MediaType `json:"media_type,omitempty"`
	// Waiting: a placeholder for a message that could not be decrypted
	// yet (see MessageInput.Waiting).
	Waiting bool `json:"waiting,omitempty"`
	// EditTime is when the text was last edited; nil if never.
	EditTime *time.Time `json:"edit_time,omitempty"`
	// Revoked: deleted for everyone by its sender; no text, no media.
	Revoked bool `json:"revoked,omitempty"`
	// Reactions, one per sender, oldest first.
	Reactions []Reaction `json:"reactions,omitempty"`
	// Status of a message from me (receipts).
	Status MessageStatus `json:"status,omitempty"`
}

// Reaction is one sender's reaction to a message.
type Reaction struct {
	SenderJID string    `json:"sender_jid,omitempty"`
	Emoji     string    `json:"emoji"`
	Time      time.Time `json:"time"`
}
