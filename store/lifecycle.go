package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/chatsync/chatsync"
)

// A message's lifecycle: edits, revokes and reactions. They are reported
// as the message's ID with the change (chatsync.MessageInput.IsUpdate) and
// written after the chunk's messages, in a transaction of their own, one
// message at a time under its row lock: they are rare next to messages, so
// the chunk's set-based statements stay as they are. The merge is
// commutative, so any order of reports gives the same row:
//   - the newest edit_time wins (its text), whatever order edits come in;
//   - a revoke is final: text and media are removed (not hidden), the row
//     stays as a tombstone; edit_time still advances, so edit-then-revoke
//     and revoke-then-edit end equal;
//   - reactions: one per sender, the newest timestamp wins (equal times:
//     the greater emoji, so the outcome does not depend on arrival); an
//     empty emoji is a removal, kept so an older reaction arriving later
//     cannot bring it back;
//   - the status of a message from me (receipts) only moves forward: the
//     greater status wins. A message reported with content and a status
//     is inserted with it; only when it was stored before (a redelivery)
//     is the status applied here as a change.
//
// A change reported before its message creates a pending row: hidden from
// every read, completed by the message when it lands (messageConflict).
// Replaying a report changes nothing, and no event is published for it.

// messageKey names a message: its chat and WhatsApp ID.
type messageKey struct {
	chatID int64
	waID   string
}

// revokedPreview is the chat preview of a revoked last message.
const revokedPreview = "This message was deleted"

// updatePlan is one change report of a chunk.
type updatePlan struct {
	chatJID string
	m       chatsync.MessageInput
	// ofMessage: the status of a message reported with its content. The
	// chunk's insert wrote it when it stored the message; the change is
	// for a message stored before, whose insert changed nothing.
	ofMessage bool
}

// splitUpdates takes the change reports out of the chats' messages: the
// chunk's statements write messages; applyUpdates writes changes.
func splitUpdates(in []chatsync.ChatInput) ([]chatsync.ChatInput, []updatePlan) {
	var ups []updatePlan
	out := in
	copied := false
	for i, c := range in {
		if !slices.ContainsFunc(c.Messages, func(m chatsync.MessageInput) bool { return m.IsUpdate() || m.Status != chatsync.StatusUnknown }) {
			continue
		}
		if !copied {
			out = slices.Clone(in)
			copied = true
		}
		var msgs []chatsync.MessageInput
		for _, m := range c.Messages {
			switch {
			case m.IsUpdate():
				ups = append(ups, updatePlan{chatJID: c.JID, m: m})
			case m.Status != chatsync.StatusUnknown:
				// The message with its status, and the status as a change
				// in case the message is stored already.
				ups = append(ups, updatePlan{chatJID: c.JID, ofMessage: true, m: chatsync.MessageInput{
					ID: m.ID, SenderJID: m.SenderJID, FromMe: m.FromMe, Timestamp: m.Timestamp, Status: m.Status}})
				msgs = append(msgs, m)
			default:
				msgs = append(msgs, m)
			}
		}
		out[i].Messages = msgs
	}
	return out, ups
}

// applyUpdates writes a chunk's change reports (after its messages) and
// fixes the preview of chats whose newest message the chunk completed from
// a pending row that had changed. It returns the visible messages that
// changed.
// ids are the chunk's chat IDs in p.chats' order (the write's answer).
func (s *Store) applyUpdates(ctx context.Context, p chunkPlan, added []chatsync.Message, ids []int64) ([]chatsync.Message, error) {
	var completed []chatsync.Message
	for _, m := range added {
		if m.Revoked || m.EditTime != nil {
			completed = append(completed, m)
		}
	}
	if len(p.updates) == 0 && len(completed) == 0 {
		return nil, nil // most chunks: no per-call work beyond this loop
	}
	inserted := make(map[messageKey]bool, len(added))
	for _, m := range added {
		inserted[messageKey{m.ChatID, m.WAID}] = true
	}
	chatIDs := make(map[string]int64, len(p.chats))
	for i, c := range p.chats {
		if i < len(ids) {
			chatIDs[c.JID] = ids[i]
		}
	}
	// The statuses of messages the chunk inserted are written: no change
	// left to apply (most of a history's messages from me).
	updates := slices.DeleteFunc(slices.Clone(p.updates), func(u updatePlan) bool {
		id, ok := chatIDs[u.chatJID]
		return u.ofMessage && ok && inserted[messageKey{id, u.m.ID}]
	})
	if len(updates) == 0 && len(completed) == 0 {
		return nil, nil
	}
	var out []chatsync.Message
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		out = out[:0]
		for _, m := range completed {
			if err := s.followPreview(ctx, tx, m); err != nil {
				return err
			}
		}
		for _, u := range updates {
			m, changed, err := s.applyUpdate(ctx, tx, p, u, inserted)
			if err != nil {
				return fmt.Errorf("message %s of %s: %w", u.m.ID, u.chatJID, err)
			}
			if !changed {
				continue
			}
			if err := s.followPreview(ctx, tx, m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("apply %d message changes: %w", len(updates), err)
	}
	// A message changed twice in one chunk is reported once, as it ends.
	last := make(map[int64]int, len(out))
	for i, m := range out {
		last[m.ID] = i
	}
	kept := out[:0]
	for i, m := range out {
		if last[m.ID] == i {
			kept = append(kept, m)
		}
	}
	return kept, nil
}

// applyUpdate merges one change report into its message's row, creating a
// pending row when the message is not stored yet. changed is false for a
// pending row and for a report that changes nothing (a replay, an older
// edit).
func (s *Store) applyUpdate(ctx context.Context, tx bun.Tx, p chunkPlan, u updatePlan, inserted map[messageKey]bool) (chatsync.Message, bool, error) {
	var chatID int64
	if err := tx.NewSelect().Model((*chatRow)(nil)).Column("id").Where("session_id = ? AND jid = ?", p.sessionID, u.chatJID).Scan(ctx, &chatID); err != nil {
		return chatsync.Message{}, false, fmt.Errorf("find chat: %w", err)
	}
	if u.ofMessage && inserted[messageKey{chatID, u.m.ID}] {
		return chatsync.Message{}, false, nil // the insert wrote the status
	}
	row, err := s.lockMessage(ctx, tx, chatID, u.m.ID)
	if errors.Is(err, sql.ErrNoRows) {
		pending := messageRow{
			ChatID: chatID, WAID: u.m.ID, SenderJID: u.m.SenderJID, FromMe: u.m.FromMe, SentAt: u.m.Timestamp.UTC(),
			Pending: true, CreatedAt: p.now,
		}
		if _, err := tx.NewInsert().Model(&pending).On("CONFLICT (chat_id, wa_id) DO NOTHING").Exec(ctx); err != nil {
			return chatsync.Message{}, false, fmt.Errorf("store pending row: %w", err)
		}
		row, err = s.lockMessage(ctx, tx, chatID, u.m.ID)
	}
	if err != nil {
		return chatsync.Message{}, false, err
	}
	before := row
	mergeUpdate(&row, u.m)
	if row.Text == before.Text && row.MediaType == before.MediaType && row.Revoked == before.Revoked &&
		timesEqual(row.EditTime, before.EditTime) && row.Reactions == before.Reactions && row.Status == before.Status {
		return chatsync.Message{}, false, nil
	}
	if _, err := tx.NewUpdate().Model(&row).Column("text", "media_type", "waiting", "edit_time", "revoked", "reactions", "status").WherePK().Exec(ctx); err != nil {
		return chatsync.Message{}, false, fmt.Errorf("update message: %w", err)
	}
	return row.domain(), !row.Pending, nil
}

func (s *Store) lockMessage(ctx context.Context, tx bun.Tx, chatID int64, waID string) (messageRow, error) {
	var row messageRow
	q := tx.NewSelect().Model(&row).Where("chat_id = ? AND wa_id = ?", chatID, waID)
	if s.pg {
		q = q.For("UPDATE")
	}
	err := q.Scan(ctx)
	return row, err
}

// mergeUpdate applies a change report to a row (see the rules above).
func mergeUpdate(row *messageRow, u chatsync.MessageInput) {
	if u.EditTime != nil && (row.EditTime == nil || u.EditTime.After(*row.EditTime) || u.EditTime.Equal(*row.EditTime) && u.Text > row.Text) {
		row.EditTime = new(u.EditTime.UTC())
		row.Text = u.Text
		row.Waiting = false
	}
	if u.Revoked {
		row.Revoked = true
	}
	if row.Revoked {
		row.Text, row.MediaType, row.Waiting = "", "", false
	}
	if len(u.Reactions) > 0 {
		row.Reactions = mergeReactions(row.Reactions, u.Reactions)
	}
	row.Status = max(row.Status, int16(u.Status))
}

// mergeReactions merges reports into the stored JSON (one entry per
// sender, removals kept) and returns it, sorted by time then sender.
func mergeReactions(stored string, in []chatsync.ReactionInput) string {
	all := decodeReactions(stored)
	for _, r := range in {
		next := chatsync.Reaction{SenderJID: r.SenderJID, Emoji: r.Emoji, Time: r.Timestamp.UTC()}
		i := slices.IndexFunc(all, func(x chatsync.Reaction) bool { return x.SenderJID == r.SenderJID })
		switch {
		case i < 0:
			all = append(all, next)
		case next.Time.After(all[i].Time) || next.Time.Equal(all[i].Time) && next.Emoji > all[i].Emoji:
			all[i] = next
		}
	}
	slices.SortFunc(all, func(a, b chatsync.Reaction) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.SenderJID, b.SenderJID))
	})
	b, _ := json.Marshal(all) // strings and times always encode
	return string(b)
}

func decodeReactions(stored string) []chatsync.Reaction {
	if stored == "" {
		return nil
	}
	var all []chatsync.Reaction
	if err := json.Unmarshal([]byte(stored), &all); err != nil {
		return nil // written by mergeReactions only
	}
	return all
}

// shownReactions are the stored reactions without removals.
func shownReactions(stored string) []chatsync.Reaction {
	all := slices.DeleteFunc(decodeReactions(stored), func(r chatsync.Reaction) bool { return r.Emoji == "" })
	if len(all) == 0 {
		return nil
	}
	return all
}

func timesEqual(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}

// followPreview sets the chat's preview to a changed message's when it is
// the chat's newest.
func (s *Store) followPreview(ctx context.Context, tx bun.Tx, m chatsync.Message) error {
	if !m.Revoked && m.EditTime == nil {
		return nil // reactions and receipts do not change the preview
	}
	pv := revokedPreview
	if !m.Revoked {
		in := chatsync.MessageInput{Text: m.Text, MediaType: m.MediaType}
		pv = preview(&in)
	}
	_, err := tx.NewUpdate().Model((*chatRow)(nil)).Set("last_message_preview = ?", pv).
		Where("id = ? AND last_message_at = ? AND last_message_preview <> ?", m.ChatID, m.SentAt.UTC(), pv).Exec(ctx)
	if err != nil {
		return fmt.Errorf("follow preview of chat %d: %w", m.ChatID, err)
	}
	return nil
}
