package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chatsync/chatsync"
)

// UnreadableChat is a chat a sidecar could not read and left out of a sync.
type UnreadableChat struct {
	JID    string `json:"jid"`
	Reason string `json:"reason"`
}

// SidecarSync sums up a sidecar's finished history sync.
type SidecarSync struct {
	Total, Synced   int32
	UnreadableCount int32
	Unreadable      []UnreadableChat // the first of them
}

// SidecarReport is what a sidecar reports: its client's state and last
// error, and Sync when a history sync finished since its last report.
type SidecarReport struct {
	State     chatsync.SidecarState
	LastError string
	Sync      *SidecarSync
}

// SidecarHealth is a sidecar session's last report with its last sync.
type SidecarHealth struct {
	Status chatsync.SidecarStatus
	SyncAt time.Time // zero before the first sync report
	Sync   SidecarSync
}

// ReportSidecar records a sidecar's report on its session and returns the
// session as it is now.
func (s *Store) ReportSidecar(ctx context.Context, sessionID int64, r SidecarReport) (chatsync.Session, error) {
	now := s.now()
	q := s.db.NewUpdate().Model((*sessionRow)(nil)).
		Set("sidecar_state = ?, sidecar_error = ?, sidecar_reported_at = ?", string(r.State), r.LastError, now).
		Where("id = ?", sessionID)
	if r.Sync != nil {
		list := r.Sync.Unreadable
		if list == nil {
			list = []UnreadableChat{}
		}
		b, err := json.Marshal(list)
		if err != nil {
			return chatsync.Session{}, err
		}
		q.Set("sidecar_sync_at = ?, sidecar_sync_total = ?, sidecar_sync_synced = ?, sidecar_unreadable_count = ?, sidecar_unreadable = ?",
			now, r.Sync.Total, r.Sync.Synced, r.Sync.UnreadableCount, string(b))
	}
	var row sessionRow
	if err := q.Returning("*").Scan(ctx, &row); err != nil {
		return chatsync.Session{}, fmt.Errorf("record sidecar report of session %d: %w", sessionID, translate(err))
	}
	return row.domain(), nil
}

// SidecarHealth reads a session's last sidecar report.
func (s *Store) SidecarHealth(ctx context.Context, sessionID int64) (SidecarHealth, error) {
	var row sessionRow
	if err := s.db.NewSelect().Model(&row).Where("id = ?", sessionID).Scan(ctx); err != nil {
		return SidecarHealth{}, fmt.Errorf("sidecar health of session %d: %w", sessionID, translate(err))
	}
	h := SidecarHealth{
		Status: row.domain().Sidecar, SyncAt: derefTime(row.SidecarSyncAt),
		Sync: SidecarSync{Total: row.SidecarSyncTotal, Synced: row.SidecarSyncSynced, UnreadableCount: row.SidecarUnreadableCount},
	}
	if row.SidecarUnreadable != "" {
		if err := json.Unmarshal([]byte(row.SidecarUnreadable), &h.Sync.Unreadable); err != nil {
			return SidecarHealth{}, fmt.Errorf("sidecar health of session %d: unreadable chats: %w", sessionID, err)
		}
	}
	return h, nil
}
