package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/chatsync/chatsync"
)

// chatViewRow is a chat joined with its session, contact and group.
type chatViewRow struct {
	ID                 int64      `bun:"id"`
	WorkspaceID        int64      `bun:"workspace_id"`
	SessionID          int64      `bun:"session_id"`
	SessionName        string     `bun:"session_name"`
	Provider           string     `bun:"provider"`
	JID                string     `bun:"jid"`
	Type               string     `bun:"type"`
	Name               string     `bun:"name"`
	Phone              *string    `bun:"phone"`
	PushName           *string    `bun:"push_name"`
	FullName           *string    `bun:"full_name"`
	Description        *string    `bun:"description"`
	ParticipantCount   int32      `bun:"participant_count"`
	UnreadCount        int32      `bun:"unread_count"`
	LastActivityAt     time.Time  `bun:"last_activity_at"`
	LastMessagePreview string     `bun:"last_message_preview"`
	Archived           bool       `bun:"archived"`
	Pinned             bool       `bun:"pinned"`
	MutedUntil         *time.Time `bun:"muted_until"`
	MarkedUnread       bool       `bun:"marked_unread"`
}

const chatViewColumns = `c.id, c.workspace_id, c.session_id, s.display_name AS session_name, s.provider,
	c.jid, c.type, c.name, ct.phone_e164 AS phone, ct.push_name, ct.full_name, g.description,
	c.participant_count, c.unread_count, c.last_activity_at, c.last_message_preview, c.archived, c.pinned,
	c.muted_until, c.marked_unread`

func chatViewQuery(db bun.IDB) *bun.SelectQuery {
	return db.NewSelect().TableExpr("chats AS c").ColumnExpr(chatViewColumns).
		Join("JOIN sessions AS s ON s.id = c.session_id").
		Join("LEFT JOIN contacts AS ct ON ct.id = c.contact_id").
		Join("LEFT JOIN groups AS g ON g.chat_id = c.id")
}

func (r *chatViewRow) domain() chatsync.ChatView {
	v := chatsync.ChatView{
		ID: r.ID, WorkspaceID: r.WorkspaceID, SessionID: r.SessionID, SessionName: r.SessionName,
		Provider: chatsync.Provider(r.Provider), JID: r.JID, Type: chatsync.ChatType(r.Type), Name: r.Name,
		ParticipantCount: r.ParticipantCount, UnreadCount: r.UnreadCount, LastActivityAt: r.LastActivityAt.UTC(),
		LastMessagePreview: r.LastMessagePreview, Archived: r.Archived, Pinned: r.Pinned, MarkedUnread: r.MarkedUnread,
	}
	// A mute that has ended reads as no mute.
	if r.MutedUntil != nil && r.MutedUntil.After(time.Now()) {
		v.MutedUntil = r.MutedUntil.UTC()
	}
	if v.LastActivityAt.Equal(epoch) {
		v.LastActivityAt = time.Time{}
	}
	if r.Phone != nil {
		v.Phone = *r.Phone
	}
	if r.FullName != nil && *r.FullName != "" {
		v.ContactName = *r.FullName
	} else if r.PushName != nil {
		v.ContactName = *r.PushName
	}
	if r.Description != nil {
		v.Description = *r.Description
	}
	if v.Name == "" {
		v.Name = v.ContactName
	}
	if v.Name == "" {
		v.Name = v.Phone
	}
	return v
}

func chatViews(ctx context.Context, db bun.IDB, wsID int64, ids []int64) ([]chatsync.ChatView, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []chatViewRow
	err := chatViewQuery(db).Where("c.workspace_id = ? AND c.id IN (?)", wsID, bun.List(ids)).
		OrderExpr("c.last_activity_at DESC, c.id DESC").Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make([]chatsync.ChatView, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// ChatFilter selects chats of a workspace.
type ChatFilter struct {
	WorkspaceID int64
	SessionIDs  []int64 // empty: all sessions
	Type        chatsync.ChatType
	Query       string
	UnreadOnly  bool
	// Archived, when set, keeps only the chats archived (true) or not
	// archived (false); Pinned the same for pinned chats.
	Archived, Pinned *bool
}

// ChatCursor is the keyset position after which a page starts.
type ChatCursor struct {
	LastActivityAt time.Time
	ID             int64
}

// ListChats returns up to limit chats matching f, newest activity first,
// after the cursor when given. It never uses OFFSET: pages follow the keyset
// (last_activity_at, id), served by an index (see listChatsQuery).
func (s *Store) ListChats(ctx context.Context, f ChatFilter, after *ChatCursor, limit int) ([]chatsync.ChatView, error) {
	var rows []chatViewRow
	if err := s.listChatsQuery(f, after, limit).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("list chats: %w", err)
	}
	out := make([]chatsync.ChatView, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// listChatsQuery is ListChats' query. Each filter keeps the ORDER BY an
// index order: on PostgreSQL, one session uses
// idx_chats_workspace_session_activity, a type filter
// idx_chats_workspace_type_activity, unread_only the partial
// idx_chats_workspace_unread_marked_activity, archived the partial
// idx_chats_workspace_archived_activity, pinned the partial
// idx_chats_workspace_pinned_activity, everything else
// idx_chats_workspace_activity (several sessions filter its rows), and a
// search the trigram index idx_chats_search_trgm. The keyset condition is a
// row comparison, which PostgreSQL turns into an index bound, so a deep
// page costs what the first one does.
func (s *Store) listChatsQuery(f ChatFilter, after *ChatCursor, limit int) *bun.SelectQuery {
	q := chatViewQuery(s.db).Where("c.workspace_id = ?", f.WorkspaceID)
	switch len(f.SessionIDs) {
	case 0:
	case 1:
		q.Where("c.session_id = ?", f.SessionIDs[0])
	default:
		q.Where("c.session_id IN (?)", bun.List(f.SessionIDs))
	}
	if f.Type != "" {
		q.Where("c.type = ?", string(f.Type))
	}
	if f.UnreadOnly {
		q.Where("(c.unread_count > 0 OR c.marked_unread)")
	}
	if f.Archived != nil {
		if *f.Archived {
			q.Where("c.archived")
		} else {
			q.Where("NOT c.archived")
		}
	}
	if f.Pinned != nil {
		if *f.Pinned {
			q.Where("c.pinned")
		} else {
			q.Where("NOT c.pinned")
		}
	}
	if f.Query != "" {
		q.Where("c.search_text LIKE ? ESCAPE '\\'", "%"+escapeLike(strings.ToLower(f.Query))+"%")
	}
	if after != nil {
		at := after.LastActivityAt
		if at.IsZero() {
			at = epoch
		}
		q.Where("(c.last_activity_at, c.id) < (?, ?)", at.UTC(), after.ID)
	}
	return q.OrderExpr("c.last_activity_at DESC, c.id DESC").Limit(int64(limit))
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Chat returns a chat of a workspace.
func (s *Store) Chat(ctx context.Context, workspaceID, chatID int64) (chatsync.ChatView, error) {
	v, err := chatViews(ctx, s.db, workspaceID, []int64{chatID})
	if err != nil {
		return chatsync.ChatView{}, fmt.Errorf("load chat %d: %w", chatID, err)
	}
	if len(v) == 0 {
		return chatsync.ChatView{}, fmt.Errorf("chat %d: %w", chatID, ErrNotFound)
	}
	return v[0], nil
}

// Participants returns a group chat's members, super admins and admins
// first. The chat must belong to the workspace.
func (s *Store) Participants(ctx context.Context, workspaceID, chatID int64) ([]chatsync.Participant, error) {
	var rows []struct {
		JID      string  `bun:"jid"`
		Phone    string  `bun:"phone_e164"`
		Role     string  `bun:"role"`
		PushName *string `bun:"push_name"`
	}
	err := s.db.NewSelect().TableExpr("group_participants AS gp").
		ColumnExpr("gp.jid, gp.phone_e164, gp.role, ct.push_name").
		Join("JOIN chats AS c ON c.id = gp.chat_id AND c.workspace_id = ?", workspaceID).
		Join("LEFT JOIN contacts AS ct ON ct.workspace_id = c.workspace_id AND ct.phone_jid = gp.jid").
		Where("gp.chat_id = ?", chatID).
		OrderExpr("CASE gp.role WHEN 'superadmin' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, gp.jid").
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("list participants of chat %d: %w", chatID, err)
	}
	out := make([]chatsync.Participant, len(rows))
	for i, r := range rows {
		out[i] = chatsync.Participant{JID: r.JID, Phone: r.Phone, Role: chatsync.Role(r.Role)}
		if r.PushName != nil {
			out[i].Name = *r.PushName
		}
	}
	return out, nil
}

// MessageCursor is the keyset position after which a page of messages starts.
type MessageCursor struct {
	SentAt time.Time
	ID     int64
}

// ListMessages returns up to limit messages of a chat of the workspace,
// newest first, after the cursor when given. ErrNotFound when the chat is
// not the workspace's.
func (s *Store) ListMessages(ctx context.Context, workspaceID, chatID int64, after *MessageCursor, limit int) ([]chatsync.Message, error) {
	exists, err := s.db.NewSelect().Model((*chatRow)(nil)).Where("id = ? AND workspace_id = ?", chatID, workspaceID).Exists(ctx)
	if err != nil {
		return nil, fmt.Errorf("load chat %d: %w", chatID, err)
	}
	if !exists {
		return nil, fmt.Errorf("chat %d: %w", chatID, ErrNotFound)
	}
	var rows []messageRow
	q := s.db.NewSelect().Model(&rows).Where("chat_id = ? AND NOT pending", chatID)
	if after != nil {
		q.Where("(sent_at, id) < (?, ?)", after.SentAt.UTC(), after.ID)
	}
	if err := q.OrderExpr("sent_at DESC, id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list messages of chat %d: %w", chatID, err)
	}
	out := make([]chatsync.Message, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}
