package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/chatsync/chatsync"
)

// NewSession is what CreateSession stores.
type NewSession struct {
	WorkspaceID       int64
	DisplayName       string
	Provider          chatsync.Provider
	SyncConfig        chatsync.SyncConfig
	Backup            bool
	SecretNonce       []byte // the sidecar secret is derived from it
	MetaPhoneNumberID string
	MetaTokenSealed   []byte
}

// CreateSession inserts a session; with Backup it takes the backup flag from
// any other session of the workspace in the same transaction.
func (s *Store) CreateSession(ctx context.Context, ns NewSession) (chatsync.Session, error) {
	now := s.now()
	row := sessionRow{
		WorkspaceID: ns.WorkspaceID, DisplayName: ns.DisplayName, Provider: string(ns.Provider),
		Status: string(chatsync.SessionPending), SyncStatus: string(chatsync.SyncPending),
		MaxChats: ns.SyncConfig.MaxChats, SyncWindowDays: ns.SyncConfig.SyncWindowDays, MessagesPerChat: ns.SyncConfig.MessagesPerChat,
		RatePerMinute: ns.SyncConfig.RatePerMinute, SecretNonce: ns.SecretNonce, Backup: ns.Backup,
		MetaPhoneNumberID: ns.MetaPhoneNumberID, MetaTokenSealed: ns.MetaTokenSealed,
		CreatedAt: now, UpdatedAt: now,
	}
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if ns.Backup {
			if err := clearBackup(ctx, tx, ns.WorkspaceID); err != nil {
				return err
			}
		}
		_, err := tx.NewInsert().Model(&row).Returning("id").Exec(ctx)
		return err
	})
	if err != nil {
		return chatsync.Session{}, fmt.Errorf("insert session: %w", translate(err))
	}
	return row.domain(), nil
}

func clearBackup(ctx context.Context, tx bun.IDB, workspaceID int64) error {
	_, err := tx.NewUpdate().Model((*sessionRow)(nil)).Set("backup = ?", false).
		Where("workspace_id = ? AND backup", workspaceID).Exec(ctx)
	return err
}

// Session returns a session of a workspace.
func (s *Store) Session(ctx context.Context, workspaceID, id int64) (chatsync.Session, error) {
	var row sessionRow
	err := s.db.NewSelect().Model(&row).Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx)
	if err != nil {
		return chatsync.Session{}, fmt.Errorf("load session %d: %w", id, translate(err))
	}
	return row.domain(), nil
}

// SessionSecret returns what verifying a sidecar signature needs, by session
// ID alone: the session's workspace and its secret nonce.
func (s *Store) SessionSecret(ctx context.Context, id int64) (workspaceID int64, nonce []byte, err error) {
	var row sessionRow
	err = s.db.NewSelect().Model(&row).Column("workspace_id", "secret_nonce").Where("id = ?", id).Scan(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("load session %d: %w", id, translate(err))
	}
	return row.WorkspaceID, row.SecretNonce, nil
}

// MetaToken returns the sealed Meta Cloud API token of a session.
func (s *Store) MetaToken(ctx context.Context, workspaceID, id int64) ([]byte, error) {
	var row sessionRow
	err := s.db.NewSelect().Model(&row).Column("meta_token_sealed").
		Where("id = ? AND workspace_id = ?", id, workspaceID).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load session %d: %w", id, translate(err))
	}
	return row.MetaTokenSealed, nil
}

// Sessions lists a workspace's sessions with IDs above afterID, oldest first.
func (s *Store) Sessions(ctx context.Context, workspaceID, afterID int64, limit int) ([]chatsync.Session, error) {
	var rows []sessionRow
	err := s.db.NewSelect().Model(&rows).Where("workspace_id = ? AND id > ?", workspaceID, afterID).
		Order("id ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]chatsync.Session, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// SessionsByIDs returns the sessions of a workspace among ids (missing ones
// are left out).
func (s *Store) SessionsByIDs(ctx context.Context, workspaceID int64, ids []int64) ([]chatsync.Session, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []sessionRow
	err := s.db.NewSelect().Model(&rows).Where("workspace_id = ? AND id IN (?)", workspaceID, bun.List(ids)).
		Order("id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load sessions: %w", err)
	}
	out := make([]chatsync.Session, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// SessionsByProvider lists every session of a provider across workspaces
// (the whatsmeow supervisor connects them all).
func (s *Store) SessionsByProvider(ctx context.Context, p chatsync.Provider) ([]chatsync.Session, error) {
	var rows []sessionRow
	if err := s.db.NewSelect().Model(&rows).Where("provider = ?", string(p)).Order("id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list %s sessions: %w", p, err)
	}
	out := make([]chatsync.Session, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// SessionUpdate lists the fields UpdateSession changes; nil keeps a field.
type SessionUpdate struct {
	DisplayName       *string
	SyncConfig        *chatsync.SyncConfig
	Backup            *bool
	MetaPhoneNumberID *string
	MetaTokenSealed   []byte
}

// UpdateSession changes a session of a workspace.
func (s *Store) UpdateSession(ctx context.Context, workspaceID, id int64, u SessionUpdate) (chatsync.Session, error) {
	var out chatsync.Session
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*sessionRow)(nil)).Set("updated_at = ?", s.now()).
			Where("id = ? AND workspace_id = ?", id, workspaceID)
		if u.DisplayName != nil {
			q.Set("display_name = ?", *u.DisplayName)
		}
		if c := u.SyncConfig; c != nil {
			q.Set("max_chats = ?, sync_window_days = ?, rate_per_minute = ?, messages_per_chat = ?", c.MaxChats, c.SyncWindowDays, c.RatePerMinute, c.MessagesPerChat)
		}
		if u.Backup != nil {
			if *u.Backup {
				if err := clearBackup(ctx, tx, workspaceID); err != nil {
					return err
				}
			}
			q.Set("backup = ?", *u.Backup)
		}
		if u.MetaPhoneNumberID != nil {
			q.Set("meta_phone_number_id = ?", *u.MetaPhoneNumberID)
		}
		if u.MetaTokenSealed != nil {
			q.Set("meta_token_sealed = ?", u.MetaTokenSealed)
		}
		var row sessionRow
		if err := q.Returning("*").Scan(ctx, &row); err != nil {
			return err
		}
		out = row.domain()
		return nil
	})
	if err != nil {
		return chatsync.Session{}, fmt.Errorf("update session %d: %w", id, translate(err))
	}
	return out, nil
}

// SetSecretNonce replaces a session's secret nonce (RotateSessionSecret).
func (s *Store) SetSecretNonce(ctx context.Context, workspaceID, id int64, nonce []byte) error {
	res, err := s.db.NewUpdate().Model((*sessionRow)(nil)).Set("secret_nonce = ?, updated_at = ?", nonce, s.now()).
		Where("id = ? AND workspace_id = ?", id, workspaceID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("rotate secret of session %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("session %d: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteSession removes a session with its chats, messages and batches. It
// refuses with ErrBusy while the session has batches queued or processing.
func (s *Store) DeleteSession(ctx context.Context, workspaceID, id int64) error {
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row sessionRow
		q := tx.NewSelect().Model(&row).Column("id").Where("id = ? AND workspace_id = ?", id, workspaceID)
		if s.pg {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return translate(err)
		}
		pending, err := tx.NewSelect().Model((*batchRow)(nil)).
			Where("session_id = ? AND status IN (?)", id, bun.List(pendingStatuses())).
			Count(ctx)
		if err != nil {
			return err
		}
		if pending > 0 {
			return fmt.Errorf("%w: %d batches are queued or processing", ErrBusy, pending)
		}
		_, err = tx.NewDelete().Model((*sessionRow)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session %d: %w", id, err)
	}
	return nil
}

// SetSessionStatus records a session's connection state (and, when known,
// its JID and push name, or the end of a ban).
func (s *Store) SetSessionStatus(ctx context.Context, id int64, st chatsync.SessionStatus, jid, pushName string, banExpire time.Time) (chatsync.Session, error) {
	q := s.db.NewUpdate().Model((*sessionRow)(nil)).
		Set("status = ?, updated_at = ?, ban_expire_at = ?", string(st), s.now(), timePtr(banExpire)).
		Where("id = ?", id)
	if jid != "" {
		q.Set("jid = ?", jid)
	}
	if pushName != "" {
		q.Set("push_name = ?", pushName)
	}
	var row sessionRow
	if err := q.Returning("*").Scan(ctx, &row); err != nil {
		return chatsync.Session{}, fmt.Errorf("set status of session %d: %w", id, translate(err))
	}
	return row.domain(), nil
}

func (r *sessionRow) domain() chatsync.Session {
	return chatsync.Session{
		ID: r.ID, WorkspaceID: r.WorkspaceID, DisplayName: r.DisplayName,
		Provider: chatsync.Provider(r.Provider), Status: chatsync.SessionStatus(r.Status),
		JID: r.JID, PushName: r.PushName,
		SyncConfig: chatsync.SyncConfig{
			MaxChats: r.MaxChats, SyncWindowDays: r.SyncWindowDays, RatePerMinute: r.RatePerMinute, MessagesPerChat: r.MessagesPerChat,
		},
		SyncStatus: chatsync.SyncStatus(r.SyncStatus), LastSyncAt: derefTime(r.LastSyncAt),
		TotalSynced: r.TotalSynced, LastError: r.LastError, Backup: r.Backup,
		BanExpireAt: derefTime(r.BanExpireAt), MetaPhoneNumberID: r.MetaPhoneNumberID,
		Sidecar: chatsync.SidecarStatus{
			State: chatsync.SidecarState(r.SidecarState), LastError: r.SidecarError, ReportedAt: derefTime(r.SidecarReportedAt),
		},
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// SessionByID returns a session by ID alone, for the worker side (the
// whatsmeow supervisor and its sinks), which acts for every workspace.
func (s *Store) SessionByID(ctx context.Context, id int64) (chatsync.Session, error) {
	var row sessionRow
	if err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return chatsync.Session{}, fmt.Errorf("load session %d: %w", id, translate(err))
	}
	return row.domain(), nil
}

// WhatsmeowDevice is a whatsmeow session and the device it is linked to.
type WhatsmeowDevice struct {
	Session chatsync.Session
	// DeviceJID is the full device JID ("<user>:<device>@s.whatsapp.net"),
	// the key of whatsmeow's device row; empty before pairing.
	DeviceJID string
}

// WhatsmeowDevices lists the whatsmeow sessions linked to a device, across
// workspaces (the supervisor connects them all).
func (s *Store) WhatsmeowDevices(ctx context.Context) ([]WhatsmeowDevice, error) {
	var rows []sessionRow
	err := s.db.NewSelect().Model(&rows).
		Where("provider = ? AND wa_device_jid <> ''", string(chatsync.ProviderWhatsmeow)).Order("id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list whatsmeow devices: %w", err)
	}
	out := make([]WhatsmeowDevice, len(rows))
	for i := range rows {
		out[i] = WhatsmeowDevice{Session: rows[i].domain(), DeviceJID: rows[i].WADeviceJID}
	}
	return out, nil
}

// DeviceJID returns the whatsmeow device a session is linked to; "" when
// none.
func (s *Store) DeviceJID(ctx context.Context, id int64) (string, error) {
	var row sessionRow
	if err := s.db.NewSelect().Model(&row).Column("wa_device_jid").Where("id = ?", id).Scan(ctx); err != nil {
		return "", fmt.Errorf("load device of session %d: %w", id, translate(err))
	}
	return row.WADeviceJID, nil
}

// SetDeviceJID links a session to a whatsmeow device ("" unlinks it).
func (s *Store) SetDeviceJID(ctx context.Context, id int64, jid string) error {
	res, err := s.db.NewUpdate().Model((*sessionRow)(nil)).Set("wa_device_jid = ?, updated_at = ?", jid, s.now()).
		Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set device of session %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("session %d: %w", id, ErrNotFound)
	}
	return nil
}

// PendingBatchCount counts a session's batches queued or processing (the
// ones that make DeleteSession refuse).
func (s *Store) PendingBatchCount(ctx context.Context, sessionID int64) (int64, error) {
	n, err := s.db.NewSelect().Model((*batchRow)(nil)).
		Where("session_id = ? AND status IN (?)", sessionID, bun.List(pendingStatuses())).
		Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count pending batches of session %d: %w", sessionID, err)
	}
	return int64(n), nil
}

// BackupSession returns the workspace's backup session (SendMessage's
// failover target); ErrNotFound when none is set.
func (s *Store) BackupSession(ctx context.Context, workspaceID int64) (chatsync.Session, error) {
	var row sessionRow
	if err := s.db.NewSelect().Model(&row).Where("workspace_id = ? AND backup", workspaceID).Limit(1).Scan(ctx); err != nil {
		return chatsync.Session{}, fmt.Errorf("load backup session: %w", translate(err))
	}
	return row.domain(), nil
}

// HasChat reports whether a session has a chat with a JID (a backup session
// can reach a group only when it is in it).
func (s *Store) HasChat(ctx context.Context, sessionID int64, jid string) (bool, error) {
	ok, err := s.db.NewSelect().Model((*chatRow)(nil)).Where("session_id = ? AND jid = ?", sessionID, jid).Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("look up chat %s: %w", jid, err)
	}
	return ok, nil
}

// HistoryAnchor is the oldest stored message of a chat: an on-demand
// history request asks WhatsApp for what came before it.
type HistoryAnchor struct {
	ChatJID   string
	MessageID string
	FromMe    bool
	SenderJID string
	SentAt    time.Time
}

// HistoryAnchors returns the oldest stored message of the session's chats
// that have one, newest chats first, at most limit; with chatJID, of that
// chat only.
func (s *Store) HistoryAnchors(ctx context.Context, sessionID int64, chatJID string, limit int) ([]HistoryAnchor, error) {
	var chats []chatRow
	q := s.db.NewSelect().Model(&chats).Column("id", "jid").Where("session_id = ?", sessionID)
	if chatJID != "" {
		q = q.Where("jid = ?", chatJID)
	}
	if err := q.Order("last_activity_at DESC", "id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list chats of session %d: %w", sessionID, err)
	}
	var out []HistoryAnchor
	for _, c := range chats {
		var m messageRow
		err := s.db.NewSelect().Model(&m).Column("wa_id", "from_me", "sender_jid", "sent_at").
			Where("chat_id = ? AND NOT pending", c.ID).Order("sent_at ASC", "id ASC").Limit(1).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("oldest message of chat %s: %w", c.JID, err)
		}
		out = append(out, HistoryAnchor{ChatJID: c.JID, MessageID: m.WAID, FromMe: m.FromMe, SenderJID: m.SenderJID, SentAt: m.SentAt.UTC()})
	}
	return out, nil
}
