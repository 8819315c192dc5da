package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/chatsync/chatsync"
)

// BatchFigures are the sync_batches figures of GetSessionHealth (one
// session) or of the metrics (one provider): the queue now, and the batches
// that finished since a point in time.
type BatchFigures struct {
	// Pending counts batches queued or processing (retrying included).
	Pending int64
	// Completed and Failed count batches that finished since the window's
	// start, by outcome.
	Completed int64
	Failed    int64
	// AvgDuration is the mean time from acceptance to the end of processing
	// of those finished batches; 0 when none finished.
	AvgDuration time.Duration
}

// Finished is Completed + Failed.
func (f BatchFigures) Finished() int64 { return f.Completed + f.Failed }

// durationSeconds is finished_at - created_at in seconds, per dialect.
func (s *Store) durationSeconds() string {
	if s.pg {
		return "EXTRACT(EPOCH FROM (b.finished_at - b.created_at))"
	}
	return "(julianday(b.finished_at) - julianday(b.created_at)) * 86400.0"
}

type figuresRow struct {
	Provider  string   `bun:"provider"`
	Pending   int64    `bun:"pending"`
	Completed int64    `bun:"completed"`
	Failed    int64    `bun:"failed"`
	AvgSecs   *float64 `bun:"avg_secs"`
}

func (r figuresRow) figures() BatchFigures {
	f := BatchFigures{Pending: r.Pending, Completed: r.Completed, Failed: r.Failed}
	if r.AvgSecs != nil {
		f.AvgDuration = time.Duration(*r.AvgSecs * float64(time.Second)).Round(time.Millisecond)
	}
	return f
}

// figuresQuery selects the figures of the batches q's joins and filters
// leave, since a point in time.
func (s *Store) figuresQuery(q *bun.SelectQuery, since time.Time) *bun.SelectQuery {
	pending := bun.List(pendingStatuses())
	return q.
		ColumnExpr("COALESCE(SUM(CASE WHEN b.status IN (?) THEN 1 ELSE 0 END), 0) AS pending", pending).
		ColumnExpr("COALESCE(SUM(CASE WHEN b.status = ? AND b.finished_at >= ? THEN 1 ELSE 0 END), 0) AS completed", string(chatsync.BatchCompleted), since).
		ColumnExpr("COALESCE(SUM(CASE WHEN b.status = ? AND b.finished_at >= ? THEN 1 ELSE 0 END), 0) AS failed", string(chatsync.BatchFailed), since).
		ColumnExpr("AVG(CASE WHEN b.status IN (?) AND b.finished_at >= ? THEN "+s.durationSeconds()+" END) AS avg_secs",
			bun.List([]string{string(chatsync.BatchCompleted), string(chatsync.BatchFailed)}), since).
		Where("(b.status IN (?) OR b.finished_at >= ?)", pending, since)
}

// WaitingMessages counts a session's placeholders still waiting for their
// content (messages that could not be decrypted yet).
func (s *Store) WaitingMessages(ctx context.Context, sessionID int64) (int64, error) {
	n, err := s.db.NewSelect().TableExpr("messages AS m").Join("JOIN chats AS c ON c.id = m.chat_id").
		Where("c.session_id = ? AND m.waiting", sessionID).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("waiting messages of session %d: %w", sessionID, err)
	}
	return int64(n), nil
}

// SessionBatchFigures computes a session's figures over the batches that
// finished since since (and the ones pending now).
func (s *Store) SessionBatchFigures(ctx context.Context, sessionID int64, since time.Time) (BatchFigures, error) {
	var row figuresRow
	q := s.figuresQuery(s.db.NewSelect().TableExpr("sync_batches AS b"), since).Where("b.session_id = ?", sessionID)
	if err := q.Scan(ctx, &row); err != nil {
		return BatchFigures{}, fmt.Errorf("batch figures of session %d: %w", sessionID, err)
	}
	return row.figures(), nil
}

// ProviderBatchFigures computes the figures per provider, across
// workspaces (the /metrics view, whose labels stay bounded).
func (s *Store) ProviderBatchFigures(ctx context.Context, since time.Time) (map[chatsync.Provider]BatchFigures, error) {
	var rows []figuresRow
	q := s.db.NewSelect().TableExpr("sync_batches AS b").Join("JOIN sessions AS s ON s.id = b.session_id").
		ColumnExpr("s.provider AS provider")
	q = s.figuresQuery(q, since).GroupExpr("s.provider")
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("batch figures per provider: %w", err)
	}
	out := make(map[chatsync.Provider]BatchFigures, len(rows))
	for _, r := range rows {
		out[chatsync.Provider(r.Provider)] = r.figures()
	}
	return out, nil
}

// SessionCount is how many sessions of a provider are in a status.
type SessionCount struct {
	Provider    chatsync.Provider
	Status      chatsync.SessionStatus
	Count       int64
	TotalSynced int64
}

// SessionCounts counts sessions by provider and status, across workspaces,
// with the chats they synced.
func (s *Store) SessionCounts(ctx context.Context) ([]SessionCount, error) {
	var rows []struct {
		Provider    string `bun:"provider"`
		Status      string `bun:"status"`
		Count       int64  `bun:"count"`
		TotalSynced int64  `bun:"total_synced"`
	}
	err := s.db.NewSelect().Model((*sessionRow)(nil)).
		ColumnExpr("provider, status, COUNT(*) AS count, COALESCE(SUM(total_synced), 0) AS total_synced").
		GroupExpr("provider, status").OrderExpr("provider, status").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count sessions: %w", err)
	}
	out := make([]SessionCount, len(rows))
	for i, r := range rows {
		out[i] = SessionCount{Provider: chatsync.Provider(r.Provider), Status: chatsync.SessionStatus(r.Status), Count: r.Count, TotalSynced: r.TotalSynced}
	}
	return out, nil
}
