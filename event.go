package chatsync

import "time"

// EventType names a realtime event.
type EventType string

// Event types, as StreamChatUpdates delivers them.
const (
	EventChatUpserted EventType = "chat_upserted"
	EventMessageAdded EventType = "message_added"
	// EventMessageUpdated: a stored message was edited, revoked or reacted
	// to; Message is the message as it is now.
	EventMessageUpdated EventType = "message_updated"
	// EventChatRemoved: a chat is gone; Removed says which, and the chat it
	// was merged into (one person's LID and phone chats).
	EventChatRemoved   EventType = "chat_removed"
	EventSessionStatus EventType = "session_status"
	EventSyncProgress  EventType = "sync_progress"
	EventSyncFailed    EventType = "sync_failed"
)

// Event is one realtime event of a workspace. It is published after the
// change it describes is committed, as JSON, on the workspace's Redis stream.
type Event struct {
	// ID is the Redis stream entry ID; set when read, not when published.
	ID          string    `json:"-"`
	Type        EventType `json:"type"`
	WorkspaceID int64     `json:"workspace_id"`
	SessionID   int64     `json:"session_id"`
	Time        time.Time `json:"time"`

	Chat     *ChatView           `json:"chat,omitempty"`
	Message  *Message            `json:"message,omitempty"`
	Status   *SessionStatusEvent `json:"status,omitempty"`
	Progress *SyncProgressEvent  `json:"progress,omitempty"`
	Failure  *SyncFailureEvent   `json:"failure,omitempty"`
	Removed  *ChatRemovedEvent   `json:"removed,omitempty"`
}

// ChatRemovedEvent names a chat that is gone and the chat that holds its
// messages now.
type ChatRemovedEvent struct {
	ChatID     int64 `json:"chat_id"`
	MergedInto int64 `json:"merged_into,omitempty"`
}

// ChatMerge is a chat of a session merged into another: From is gone.
type ChatMerge struct {
	SessionID, From, Into int64
}

// MergedEvents are the chat_removed events of merged chats, published
// after the write that merged them.
func MergedEvents(workspaceID int64, at time.Time, merged []ChatMerge) []Event {
	evs := make([]Event, 0, len(merged))
	for _, m := range merged {
		evs = append(evs, Event{Type: EventChatRemoved, WorkspaceID: workspaceID, SessionID: m.SessionID, Time: at,
			Removed: &ChatRemovedEvent{ChatID: m.From, MergedInto: m.Into}})
	}
	return evs
}

// SessionStatusEvent carries a session's new connection state.
type SessionStatusEvent struct {
	Status SessionStatus `json:"status"`
	Reason string        `json:"reason,omitempty"`
}

// SyncProgressEvent reports a finished batch.
type SyncProgressEvent struct {
	BatchID        string    `json:"batch_id"`
	Kind           BatchKind `json:"kind"`
	WrittenCount   int32     `json:"written"`
	FailedCount    int32     `json:"failed,omitempty"`
	TotalSynced    int64     `json:"total_synced"`
	PendingBatches int64     `json:"pending"`
}

// SyncFailureEvent reports a batch that failed after all attempts.
type SyncFailureEvent struct {
	BatchID  string `json:"batch_id"`
	Error    string `json:"error"`
	Attempts int32  `json:"attempts"`
}

// WrittenEvents are the events of a committed write: a chat_upserted for
// each chat as clients now see it, then a message_added for each message
// the write stored. The worker (after a batch's chunks) and SendMessage
// (after storing a sent message) publish these.
func WrittenEvents(workspaceID, sessionID int64, at time.Time, chats []ChatView, msgs, updated []Message) []Event {
	evs := make([]Event, 0, len(chats)+len(msgs)+len(updated))
	for i := range chats {
		evs = append(evs, Event{Type: EventChatUpserted, WorkspaceID: workspaceID, SessionID: sessionID, Time: at, Chat: &chats[i]})
	}
	for i := range msgs {
		evs = append(evs, Event{Type: EventMessageAdded, WorkspaceID: workspaceID, SessionID: sessionID, Time: at, Message: &msgs[i]})
	}
	for i := range updated {
		evs = append(evs, Event{Type: EventMessageUpdated, WorkspaceID: workspaceID, SessionID: sessionID, Time: at, Message: &updated[i]})
	}
	return evs
}
