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
