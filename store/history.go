package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// HistoryNotification is a whatsmeow history-sync notification (a
// marshalled waE2E.HistorySyncNotification), kept from before WhatsApp's
// ack until every batch of its blob is accepted.
type HistoryNotification struct {
	ID           int64
	SessionID    int64
	MessageID    string
	Notification []byte
	Attempts     int
	LastError    string
	ReceivedAt   time.Time
}

type historyNotificationRow struct {
	bun.BaseModel `bun:"table:wa_history_notifications,alias:hn"`
	ID            int64      `bun:"id,pk,autoincrement"`
	SessionID     int64      `bun:"session_id"`
	MessageID     string     `bun:"message_id"`
	Notification  []byte     `bun:"notification"`
	Attempts      int        `bun:"attempts"`
	LastError     string     `bun:"last_error"`
	ReceivedAt    time.Time  `bun:"received_at"`
	DoneAt        *time.Time `bun:"done_at"`
	FailedAt      *time.Time `bun:"failed_at"`
}

// SaveHistoryNotification stores a session's notification durably. A
// message ID stored before (WhatsApp delivering it again) is a no-op: the
// first copy is, or was, processed.
func (s *Store) SaveHistoryNotification(ctx context.Context, sessionID int64, messageID string, notification []byte) error {
	row := historyNotificationRow{SessionID: sessionID, MessageID: messageID, Notification: notification, ReceivedAt: s.now()}
	if _, err := s.db.NewInsert().Model(&row).On("CONFLICT (session_id, message_id) DO NOTHING").Exec(ctx); err != nil {
		return fmt.Errorf("save history notification %s of session %d: %w", messageID, sessionID, translate(err))
	}
	return nil
}

// PendingHistoryNotifications lists a session's notifications neither done
// nor failed for good, oldest first, at most limit.
func (s *Store) PendingHistoryNotifications(ctx context.Context, sessionID int64, limit int) ([]HistoryNotification, error) {
	var rows []historyNotificationRow
	err := s.db.NewSelect().Model(&rows).
		Where("session_id = ? AND done_at IS NULL AND failed_at IS NULL", sessionID).
		Order("id ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list pending history notifications of session %d: %w", sessionID, err)
	}
	out := make([]HistoryNotification, len(rows))
	for i, r := range rows {
		out[i] = HistoryNotification{
			ID: r.ID, SessionID: r.SessionID, MessageID: r.MessageID, Notification: r.Notification,
			Attempts: r.Attempts, LastError: r.LastError, ReceivedAt: r.ReceivedAt.UTC(),
		}
	}
	return out, nil
}

// FinishHistoryNotification marks a notification done: every batch of its
// blob is accepted. Its payload is dropped; the row stays, so a
// redelivery of the same message is recognised.
func (s *Store) FinishHistoryNotification(ctx context.Context, id int64) error {
	_, err := s.db.NewUpdate().Model((*historyNotificationRow)(nil)).
		Set("done_at = ?, notification = ?, last_error = ''", s.now(), []byte{}).
		Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("finish history notification %d: %w", id, err)
	}
	return nil
}

// HistoryNotificationFailed records a failed attempt at a notification.
// With permanent (its blob can never be had: WhatsApp no longer serves the
// media) it is no longer pending; its row stays, with the error, for
// health and operators.
func (s *Store) HistoryNotificationFailed(ctx context.Context, id int64, errMsg string, permanent bool) error {
	q := s.db.NewUpdate().Model((*historyNotificationRow)(nil)).
		Set("attempts = attempts + 1, last_error = ?", errMsg).Where("id = ?", id)
	if permanent {
		q = q.Set("failed_at = ?", s.now())
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("record failure of history notification %d: %w", id, err)
	}
	return nil
}

// HistoryNotificationCounts counts a session's notifications not yet done
// and those failed for good.
func (s *Store) HistoryNotificationCounts(ctx context.Context, sessionID int64) (pending, failed int, err error) {
	err = s.db.NewSelect().Model((*historyNotificationRow)(nil)).
		ColumnExpr("count(*) FILTER (WHERE done_at IS NULL AND failed_at IS NULL)").
		ColumnExpr("count(*) FILTER (WHERE failed_at IS NOT NULL)").
		Where("session_id = ?", sessionID).Scan(ctx, &pending, &failed)
	if err != nil {
		return 0, 0, fmt.Errorf("count history notifications of session %d: %w", sessionID, err)
	}
	return pending, failed, nil
}

// HistorySkips counts what history sync left out by a session's limits.
type HistorySkips struct {
	ChatsOverMaxChats     int64
	ChatsOutsideWindow    int64
	ChatsInvalid          int64
	MessagesOutsideWindow int64
}

// IsZero reports whether nothing was left out.
func (k HistorySkips) IsZero() bool { return k == HistorySkips{} }

// HistoryFigures are a session's history figures for GetSessionHealth:
// what was left out since the session was created, and the history blobs
// stored and not processed yet, or lost.
type HistoryFigures struct {
	HistorySkips
	PendingBlobs int64
	LostBlobs    int64
}

// AddHistorySkips adds to a session's counts of what history left out.
func (s *Store) AddHistorySkips(ctx context.Context, sessionID int64, k HistorySkips) error {
	if k.IsZero() {
		return nil
	}
	_, err := s.db.NewUpdate().Table("sessions").
		Set("history_chats_over_max = history_chats_over_max + ?", k.ChatsOverMaxChats).
		Set("history_chats_outside_window = history_chats_outside_window + ?", k.ChatsOutsideWindow).
		Set("history_chats_invalid = history_chats_invalid + ?", k.ChatsInvalid).
		Set("history_messages_outside_window = history_messages_outside_window + ?", k.MessagesOutsideWindow).
		Where("id = ?", sessionID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("add history skips of session %d: %w", sessionID, err)
	}
	return nil
}

// HistoryFigures reads a session's history figures.
func (s *Store) HistoryFigures(ctx context.Context, sessionID int64) (HistoryFigures, error) {
	var f HistoryFigures
	err := s.db.NewSelect().Table("sessions").
		Column("history_chats_over_max", "history_chats_outside_window", "history_chats_invalid", "history_messages_outside_window").
		Where("id = ?", sessionID).
		Scan(ctx, &f.ChatsOverMaxChats, &f.ChatsOutsideWindow, &f.ChatsInvalid, &f.MessagesOutsideWindow)
	if err != nil {
		return HistoryFigures{}, fmt.Errorf("history figures of session %d: %w", sessionID, translate(err))
	}
	pending, lost, err := s.HistoryNotificationCounts(ctx, sessionID)
	if err != nil {
		return HistoryFigures{}, err
	}
	f.PendingBlobs, f.LostBlobs = int64(pending), int64(lost)
	return f, nil
}
