package store

import (
	"time"

	"github.com/uptrace/bun"
)

// Bun models, one per table of migrations/. Only store sees them.

type workspaceRow struct {
	bun.BaseModel `bun:"table:workspaces,alias:w"`
	ID            int64     `bun:"id,pk,autoincrement"`
	Name          string    `bun:"name"`
	CreatedAt     time.Time `bun:"created_at"`
}

type tokenRow struct {
	bun.BaseModel `bun:"table:api_tokens,alias:t"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   int64      `bun:"workspace_id"`
	Name          string     `bun:"name"`
	TokenHash     []byte     `bun:"token_hash"`
	CreatedAt     time.Time  `bun:"created_at"`
	RevokedAt     *time.Time `bun:"revoked_at"`
}

type sessionRow struct {
	bun.BaseModel     `bun:"table:sessions,alias:s"`
	ID                int64      `bun:"id,pk,autoincrement"`
	WorkspaceID       int64      `bun:"workspace_id"`
	DisplayName       string     `bun:"display_name"`
	Provider          string     `bun:"provider"`
	Status            string     `bun:"status"`
	JID               string     `bun:"jid"`
	PushName          string     `bun:"push_name"`
	MaxChats          int32      `bun:"max_chats"`
	SyncWindowDays    int32      `bun:"sync_window_days"`
	RatePerMinute     int32      `bun:"rate_per_minute"`
	SyncStatus        string     `bun:"sync_status"`
	LastSyncAt        *time.Time `bun:"last_sync_at"`
	TotalSynced       int64      `bun:"total_synced"`
	LastError         string     `bun:"last_error"`
	SecretNonce       []byte     `bun:"secret_nonce"`
	Backup            bool       `bun:"backup"`
	BanExpireAt       *time.Time `bun:"ban_expire_at"`
	MetaPhoneNumberID string     `bun:"meta_phone_number_id"`
	MetaTokenSealed   []byte     `bun:"meta_token_sealed"`
	WADeviceJID       string     `bun:"wa_device_jid"`
	CreatedAt         time.Time  `bun:"created_at"`
	UpdatedAt         time.Time  `bun:"updated_at"`
	// What history left out (AddHistorySkips); only ever added to with
	// SET col = col + n, never written from a row.
	HistoryChatsOverMax          int64 `bun:"history_chats_over_max"`
	HistoryChatsOutsideWindow    int64 `bun:"history_chats_outside_window"`
	HistoryChatsInvalid          int64 `bun:"history_chats_invalid"`
	HistoryMessagesOutsideWindow int64 `bun:"history_messages_outside_window"`
	MessagesPerChat              int32 `bun:"messages_per_chat"`
	// The sidecar's last report (ReportSidecar).
	SidecarState           string     `bun:"sidecar_state"`
	SidecarError           string     `bun:"sidecar_error"`
	SidecarReportedAt      *time.Time `bun:"sidecar_reported_at"`
	SidecarSyncAt          *time.Time `bun:"sidecar_sync_at"`
	SidecarSyncTotal       int32      `bun:"sidecar_sync_total"`
	SidecarSyncSynced      int32      `bun:"sidecar_sync_synced"`
	SidecarUnreadableCount int32      `bun:"sidecar_unreadable_count"`
	SidecarUnreadable      string     `bun:"sidecar_unreadable"` // JSON array of UnreadableChat
}

type contactRow struct {
	bun.BaseModel `bun:"table:contacts,alias:ct"`
	ID            int64     `bun:"id,pk,autoincrement"`
	WorkspaceID   int64     `bun:"workspace_id"`
	PhoneJID      *string   `bun:"phone_jid"`
	LIDJID        *string   `bun:"lid_jid"`
	PhoneE164     string    `bun:"phone_e164"`
	PhoneRaw      string    `bun:"phone_raw"`
	PhoneValid    bool      `bun:"phone_valid"`
	PushName      string    `bun:"push_name"`
	FullName      string    `bun:"full_name"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

type chatRow struct {
	bun.BaseModel      `bun:"table:chats,alias:c"`
	ID                 int64      `bun:"id,pk,autoincrement"`
	WorkspaceID        int64      `bun:"workspace_id"`
	SessionID          int64      `bun:"session_id"`
	JID                string     `bun:"jid"`
	Type               string     `bun:"type"`
	Name               string     `bun:"name"`
	ContactID          *int64     `bun:"contact_id"`
	UnreadCount        int32      `bun:"unread_count"`
	Archived           bool       `bun:"archived"`
	Pinned             bool       `bun:"pinned"`
	MutedUntil         *time.Time `bun:"muted_until"`
	MarkedUnread       bool       `bun:"marked_unread"`
	LastActivityAt     time.Time  `bun:"last_activity_at"`
	LastMessageAt      time.Time  `bun:"last_message_at"`
	LastMessagePreview string     `bun:"last_message_preview"`
	ParticipantCount   int32      `bun:"participant_count"`
	SearchText         string     `bun:"search_text"`
	CreatedAt          time.Time  `bun:"created_at"`
	UpdatedAt          time.Time  `bun:"updated_at"`
}

type groupRow struct {
	bun.BaseModel `bun:"table:groups,alias:g"`
	ChatID        int64     `bun:"chat_id,pk"`
	Subject       string    `bun:"subject"`
	Description   string    `bun:"description"`
	OwnerJID      string    `bun:"owner_jid"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

type participantRow struct {
	bun.BaseModel `bun:"table:group_participants,alias:gp"`
	ChatID        int64  `bun:"chat_id,pk"`
	JID           string `bun:"jid,pk"`
	PhoneE164     string `bun:"phone_e164"`
	Role          string `bun:"role"`
	ContactID     *int64 `bun:"contact_id"`
}

type messageRow struct {
	bun.BaseModel `bun:"table:messages,alias:m"`
	ID            int64     `bun:"id,pk,autoincrement"`
	ChatID        int64     `bun:"chat_id"`
	WAID          string    `bun:"wa_id"`
	SenderJID     string    `bun:"sender_jid"`
	FromMe        bool      `bun:"from_me"`
	SentAt        time.Time `bun:"sent_at"`
	Text          string    `bun:"text"`
	MediaType     string    `bun:"media_type"`
	Waiting       bool      `bun:"waiting"`
	// EditTime, Revoked, Reactions (JSON of []chatsync.Reaction, removals
	// kept with an empty emoji; "" for none) and Pending (reported by a
	// change only, before the message itself): see lifecycle.go.
	EditTime  *time.Time `bun:"edit_time"`
	Revoked   bool       `bun:"revoked"`
	Reactions string     `bun:"reactions"`
	Pending   bool       `bun:"pending"`
	// Status is a chatsync.MessageStatus: it only grows (lifecycle.go).
	Status    int16     `bun:"status"`
	CreatedAt time.Time `bun:"created_at"`
}

type batchRow struct {
	bun.BaseModel `bun:"table:sync_batches,alias:b"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   int64      `bun:"workspace_id"`
	SessionID     int64      `bun:"session_id"`
	BatchID       string     `bun:"batch_id"`
	Kind          string     `bun:"kind"`
	Status        string     `bun:"status"`
	Payload       []byte     `bun:"payload"`
	AcceptedCount int32      `bun:"accepted_count"`
	Rejected      []byte     `bun:"rejected"`
	WrittenCount  int32      `bun:"written_count"`
	FailedChats   []byte     `bun:"failed_chats"`
	Attempts      int32      `bun:"attempts"`
	LastError     string     `bun:"last_error"`
	CreatedAt     time.Time  `bun:"created_at"`
	StartedAt     *time.Time `bun:"started_at"`
	FinishedAt    *time.Time `bun:"finished_at"`
}

type commandRow struct {
	bun.BaseModel `bun:"table:sidecar_commands,alias:sc"`
	ID            int64      `bun:"id,pk,autoincrement"`
	WorkspaceID   int64      `bun:"workspace_id"`
	SessionID     int64      `bun:"session_id"`
	Kind          string     `bun:"kind"`
	ChatJID       string     `bun:"chat_jid"`
	Text          string     `bun:"text"`
	Status        string     `bun:"status"`
	Error         string     `bun:"error"`
	MessageID     string     `bun:"message_id"`
	CreatedAt     time.Time  `bun:"created_at"`
	CompletedAt   *time.Time `bun:"completed_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
