package wa

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker/tasks"
)

// sinkStore is what Sink needs of the store.
type sinkStore interface {
	SessionByID(ctx context.Context, id int64) (chatsync.Session, error)
	AcceptBatch(ctx context.Context, nb store.NewBatch) (chatsync.Batch, bool, error)
	SetSessionStatus(ctx context.Context, id int64, st chatsync.SessionStatus, jid, pushName string, banExpire time.Time) (chatsync.Session, error)
	historyQueue
}

// publisher publishes realtime events (events.Publisher).
type publisher interface {
	Publish(ctx context.Context, evs ...chatsync.Event) ([]string, error)
}

// Sink takes what a Session produces into chatsync's pipeline: a batch
// becomes an accepted sync_batches row plus its asynq task, exactly as
// SyncBatch does for a sidecar (the translation already produced valid
// chats), so every rule of the pipeline applies; a status change is
// recorded on the session and published as a session_status event.
type Sink struct {
	store sinkStore
	queue *asynq.Client
	pub   publisher
	log   *slog.Logger

	mu         sync.Mutex
	workspaces map[int64]int64
}

var (
	_ batchSink    = (*Sink)(nil)
	_ statusSink   = (*Sink)(nil)
	_ historyQueue = (*Sink)(nil)
)

// NewSink returns a sink.
func NewSink(st sinkStore, queue *asynq.Client, pub publisher, log *slog.Logger) *Sink {
	return &Sink{store: st, queue: queue, pub: pub, log: log, workspaces: make(map[int64]int64)}
}

func (k *Sink) workspaceOf(ctx context.Context, sessionID int64) (int64, error) {
	k.mu.Lock()
	ws, ok := k.workspaces[sessionID]
	k.mu.Unlock()
	if ok {
		return ws, nil
	}
	sess, err := k.store.SessionByID(ctx, sessionID)
	if err != nil {
		return 0, err
	}
	k.mu.Lock()
	k.workspaces[sessionID] = sess.WorkspaceID
	k.mu.Unlock()
	return sess.WorkspaceID, nil
}

// SubmitBatch stores a batch durably and queues it. A batch ID seen before
// is a no-op; a failed enqueue is left to the sweeper (the batch is
// committed).
func (k *Sink) SubmitBatch(ctx context.Context, sessionID int64, kind chatsync.BatchKind, batchID string, p chatsync.BatchPayload) error {
	ws, err := k.workspaceOf(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("submit batch %s: %w", batchID, err)
	}
	log := k.log.With(slog.Int64("workspace_id", ws), slog.Int64("session_id", sessionID))
	_, dup, err := tasks.Accept(ctx, k.queue, log, func(ctx context.Context) (chatsync.Batch, bool, error) {
		return k.store.AcceptBatch(ctx, store.NewBatch{WorkspaceID: ws, SessionID: sessionID, BatchID: batchID, Kind: kind, Payload: p})
	})
	if err != nil {
		return fmt.Errorf("submit batch %s: %w", batchID, err)
	}
	if dup {
		return nil
	}
	log.DebugContext(ctx, "batch accepted", slog.String("batch_id", batchID), slog.String("kind", string(kind)), slog.Int("chats", len(p.Chats)), slog.Int("contacts", len(p.Contacts)))
	return nil
}

// SetStatus records a session's connection state and publishes it.
func (k *Sink) SetStatus(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason string, banExpire time.Time) error {
	return k.setStatus(ctx, sessionID, st, reason, "", "", banExpire)
}

// SetPaired records the account a session was just linked to, with its
// state.
func (k *Sink) SetPaired(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason, jid, pushName string) error {
	return k.setStatus(ctx, sessionID, st, reason, jid, pushName, time.Time{})
}

func (k *Sink) setStatus(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason, jid, pushName string, banExpire time.Time) error {
	sess, err := k.store.SetSessionStatus(ctx, sessionID, st, jid, pushName, banExpire)
	if err != nil {
		return err
	}
	ev := chatsync.Event{
		Type: chatsync.EventSessionStatus, WorkspaceID: sess.WorkspaceID, SessionID: sess.ID, Time: time.Now().UTC(),
		Status: &chatsync.SessionStatusEvent{Status: st, Reason: reason},
	}
	if _, err := k.pub.Publish(ctx, ev); err != nil {
		// The status is committed; clients see it on their next reload.
		k.log.WarnContext(ctx, "publish session status", slog.Int64("workspace_id", sess.WorkspaceID),
			slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
	}
	return nil
}

// SaveHistoryNotification stores a history-sync notification (store's
// method of the same name).
func (k *Sink) SaveHistoryNotification(ctx context.Context, sessionID int64, messageID string, notification []byte) error {
	return k.store.SaveHistoryNotification(ctx, sessionID, messageID, notification)
}

// PendingHistoryNotifications lists a session's unprocessed notifications.
func (k *Sink) PendingHistoryNotifications(ctx context.Context, sessionID int64, limit int) ([]store.HistoryNotification, error) {
	return k.store.PendingHistoryNotifications(ctx, sessionID, limit)
}

// FinishHistoryNotification marks a notification processed.
func (k *Sink) FinishHistoryNotification(ctx context.Context, id int64) error {
	return k.store.FinishHistoryNotification(ctx, id)
}

// HistoryNotificationFailed records a failed processing of a notification.
func (k *Sink) HistoryNotificationFailed(ctx context.Context, id int64, errMsg string, permanent bool) error {
	return k.store.HistoryNotificationFailed(ctx, id, errMsg, permanent)
}

// AddHistorySkips counts what a session's history left out.
func (k *Sink) AddHistorySkips(ctx context.Context, sessionID int64, skips store.HistorySkips) error {
	return k.store.AddHistorySkips(ctx, sessionID, skips)
}
