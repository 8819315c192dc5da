package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/chatsync/chatsync"
)

// One person, one chat. WhatsApp addresses a person by phone JID
// (…@s.whatsapp.net) and by LID (…@lid), in either order. The store keeps
// one contact per person (linkLID) and, per session, one private chat and
// one group membership, under the phone JID once the link is known:
//
//   - Before a chunk is written, canonicalize rewrites the LIDs it carries
//     (private chat JIDs, senders, reactions, members, membership changes,
//     contacts) to their phone JIDs, from the links stored and the links
//     the chunk itself carries.
//   - When a link arrives (a contact with both JIDs), mergeIdentity moves
//     what is stored under the LID: a LID chat of a session becomes the
//     phone chat, or merges into it when both exist (messages moved, a
//     message stored under both kept once; unread counts summed less the
//     duplicates not from me; last activity and preview the newer one;
//     archived, pinned and marked unread if either was, the later mute;
//     a duplicate message's further status), and group memberships move to the
//     phone JID (a member stored under both kept once), with their groups'
//     participant counts recounted.
//
// Lock order, so concurrent batches cannot deadlock: a link's contact rows
// (linkLID), then the chats of the LID and of the phone JID, session by
// session in session order, then their messages, then group memberships.
// Merging is idempotent: a second link finds nothing under the LID.
//
// A LID-only report processed concurrently with the chunk that brings the
// link can still create a LID chat after the merge (its canonicalize ran
// before the link was stored); the next report carrying the link merges
// it, and `chatsync repair identities` merges what is left.

// linkResult is what linking LIDs changed besides contacts.
type linkResult struct {
	merged      []chatsync.ChatMerge
	touched     []int64 // chats renamed, merged into, or with recounted members
	renamed     int     // LID chats that became the phone chat
	memberships int     // group memberships moved to the phone JID
}

func isLID(jid string) bool { return strings.HasSuffix(jid, "@"+chatsync.ServerLID) }

// canonicalize rewrites the LIDs of a chunk whose phone JID is known (see
// above). The input is not modified.
func (s *Store) canonicalize(ctx context.Context, wsID int64, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) ([]chatsync.ChatInput, []chatsync.ContactInput, error) {
	phoneOf := map[string]string{}
	seen := map[string]bool{}
	var lids []string
	want := func(j string) {
		if isLID(j) && !seen[j] {
			seen[j] = true
			lids = append(lids, j)
		}
	}
	link := func(c *chatsync.ContactInput) {
		if c == nil || c.AltJID == "" {
			return
		}
		switch {
		case isLID(c.JID) && !isLID(c.AltJID):
			phoneOf[c.JID] = c.AltJID
		case isLID(c.AltJID) && !isLID(c.JID):
			phoneOf[c.AltJID] = c.JID
		}
	}
	for i := range contacts {
		link(&contacts[i])
	}
	for i := range chats {
		c := &chats[i]
		link(c.Contact)
		if c.Group != nil {
			for _, m := range c.Group.Participants {
				link(&chatsync.ContactInput{JID: m.JID, AltJID: m.AltJID})
			}
		}
	}
	for i := range contacts {
		want(contacts[i].JID)
	}
	for i := range chats {
		c := &chats[i]
		want(c.JID)
		for _, m := range c.Messages {
			want(m.SenderJID)
			for _, r := range m.Reactions {
				want(r.SenderJID)
			}
		}
		if c.Group != nil {
			for _, m := range c.Group.Participants {
				want(m.JID)
			}
			for _, ch := range c.Group.Changes {
				want(ch.JID)
			}
		}
	}
	var unknown []string
	for _, l := range lids {
		if phoneOf[l] == "" {
			unknown = append(unknown, l)
		}
	}
	if len(unknown) > 0 {
		var rows []contactRow
		err := s.db.NewSelect().Model(&rows).Column("phone_jid", "lid_jid").
			Where("workspace_id = ? AND lid_jid IN (?) AND phone_jid IS NOT NULL", wsID, bun.List(unknown)).Scan(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("look up LIDs: %w", err)
		}
		for _, r := range rows {
			phoneOf[*r.LIDJID] = *r.PhoneJID
		}
	}
	to := func(j string) string {
		if p := phoneOf[j]; p != "" {
			return p
		}
		return j
	}
	changed := false
	for _, l := range lids {
		changed = changed || phoneOf[l] != ""
	}
	if !changed {
		return chats, contacts, nil
	}

	outContacts := slices.Clone(contacts)
	for i := range outContacts {
		c := &outContacts[i]
		if p := phoneOf[c.JID]; p != "" && isLID(c.JID) {
			c.JID, c.AltJID = p, c.JID
		}
	}
	outChats := slices.Clone(chats)
	for i := range outChats {
		c := &outChats[i]
		if c.Type == chatsync.ChatPrivate && isLID(c.JID) && phoneOf[c.JID] != "" {
			lid := c.JID
			c.JID = phoneOf[lid]
			ci := chatsync.ContactInput{}
			if c.Contact != nil {
				ci = *c.Contact
			}
			ci.JID, ci.AltJID = c.JID, lid
			c.Contact = &ci
		}
		if len(c.Messages) > 0 {
			msgs := slices.Clone(c.Messages)
			for j := range msgs {
				msgs[j].SenderJID = to(msgs[j].SenderJID)
				if len(msgs[j].Reactions) > 0 {
					rs := slices.Clone(msgs[j].Reactions)
					for k := range rs {
						rs[k].SenderJID = to(rs[k].SenderJID)
					}
					msgs[j].Reactions = rs
				}
			}
			c.Messages = msgs
		}
		if c.Group != nil {
			g := *c.Group
			g.Participants = slices.Clone(g.Participants)
			for j := range g.Participants {
				m := &g.Participants[j]
				if p := phoneOf[m.JID]; p != "" && isLID(m.JID) {
					m.JID, m.AltJID = p, m.JID
				}
			}
			g.Changes = slices.Clone(g.Changes)
			for j := range g.Changes {
				g.Changes[j].JID = to(g.Changes[j].JID)
			}
			c.Group = &g
		}
	}
	return outChats, outContacts, nil
}

// mergeIdentity moves what is stored under lid to phoneJID, whose contact
// is contactID (nil: none yet; the chat upsert that follows sets it) (see
// above).
func (s *Store) mergeIdentity(ctx context.Context, tx bun.Tx, wsID int64, phoneJID, lid string, contactID *int64, out *linkResult) error {
	var losers []chatRow
	err := tx.NewSelect().Model(&losers).
		Where("session_id IN (SELECT id FROM sessions WHERE workspace_id = ?) AND jid = ?", wsID, lid).
		Order("session_id").Scan(ctx)
	if err != nil {
		return fmt.Errorf("chats of %s: %w", lid, err)
	}
	for _, l := range losers {
		var keep chatRow
		q := tx.NewSelect().Model(&keep).Where("session_id = ? AND jid = ?", l.SessionID, phoneJID)
		if s.pg {
			q = q.For("UPDATE")
		}
		err := q.Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			// Only the LID chat: it becomes the phone chat.
			if _, err := tx.NewUpdate().Model((*chatRow)(nil)).Set("jid = ?, contact_id = COALESCE(?, contact_id)", phoneJID, contactID).
				Where("id = ?", l.ID).Exec(ctx); err != nil {
				return fmt.Errorf("rename chat %d: %w", l.ID, err)
			}
			out.touched = append(out.touched, l.ID)
			out.renamed++
			continue
		}
		if err != nil {
			return fmt.Errorf("chat of %s: %w", phoneJID, err)
		}
		if err := s.mergeChat(ctx, tx, l, keep, contactID); err != nil {
			return err
		}
		out.merged = append(out.merged, chatsync.ChatMerge{SessionID: l.SessionID, From: l.ID, Into: keep.ID})
		out.touched = append(out.touched, keep.ID)
	}
	return s.moveMemberships(ctx, tx, phoneJID, lid, contactID, out)
}

// mergeChat merges chat l into chat k of the same session and deletes l.
func (s *Store) mergeChat(ctx context.Context, tx bun.Tx, l, k chatRow, contactID *int64) error {
	var dupsFromThem int
	err := tx.NewSelect().TableExpr("messages AS m").ColumnExpr("count(*)").
		Where("m.chat_id = ? AND NOT m.from_me AND NOT m.pending", l.ID).
		Where("EXISTS (SELECT 1 FROM messages AS x WHERE x.chat_id = ? AND x.wa_id = m.wa_id AND NOT x.pending)", k.ID).
		Scan(ctx, &dupsFromThem)
	if err != nil {
		return fmt.Errorf("count duplicates of chat %d: %w", l.ID, err)
	}
	// Messages stored under both: the phone chat's copy stays (the LID
	// chat's goes with it, ON DELETE CASCADE), with the further status of
	// the two.
	if _, err := tx.NewUpdate().Table("messages").
		Set("status = (SELECT y.status FROM messages AS y WHERE y.chat_id = ? AND y.wa_id = messages.wa_id)", l.ID).
		Where("chat_id = ? AND EXISTS (SELECT 1 FROM messages AS y WHERE y.chat_id = ? AND y.wa_id = messages.wa_id AND y.status > messages.status)", k.ID, l.ID).
		Exec(ctx); err != nil {
		return fmt.Errorf("merge message statuses of chat %d: %w", l.ID, err)
	}
	if _, err := tx.NewUpdate().Table("messages").Set("chat_id = ?", k.ID).
		Where("chat_id = ? AND NOT EXISTS (SELECT 1 FROM messages AS x WHERE x.chat_id = ? AND x.wa_id = messages.wa_id)", l.ID, k.ID).
		Exec(ctx); err != nil {
		return fmt.Errorf("move messages of chat %d: %w", l.ID, err)
	}
	unread := max(k.UnreadCount+l.UnreadCount-int32(dupsFromThem), k.UnreadCount, l.UnreadCount)
	newer := k
	if l.LastMessageAt.After(k.LastMessageAt) {
		newer = l
	}
	name, search := k.Name, k.SearchText
	if name == "" {
		name = l.Name
	}
	if search == "" {
		search = l.SearchText
	}
	if _, err := tx.NewUpdate().Model((*chatRow)(nil)).
		Set("unread_count = ?", unread).
		Set("archived = ?", k.Archived || l.Archived).
		Set("pinned = ?", k.Pinned || l.Pinned).
		Set("muted_until = ?", laterMute(k.MutedUntil, l.MutedUntil)).
		Set("marked_unread = ?", k.MarkedUnread || l.MarkedUnread).
		Set("last_activity_at = ?", later(k.LastActivityAt, l.LastActivityAt)).
		Set("last_message_at = ?", newer.LastMessageAt).
		Set("last_message_preview = ?", newer.LastMessagePreview).
		Set("name = ?, search_text = ?, contact_id = COALESCE(?, contact_id)", name, search, contactID).
		Where("id = ?", k.ID).Exec(ctx); err != nil {
		return fmt.Errorf("merge chat %d into %d: %w", l.ID, k.ID, err)
	}
	if _, err := tx.NewDelete().Model((*chatRow)(nil)).Where("id = ?", l.ID).Exec(ctx); err != nil {
		return fmt.Errorf("delete merged chat %d: %w", l.ID, err)
	}
	return nil
}

// moveMemberships moves group memberships stored under lid to phoneJID.
func (s *Store) moveMemberships(ctx context.Context, tx bun.Tx, phoneJID, lid string, contactID *int64, out *linkResult) error {
	var groups []int64
	if err := tx.NewSelect().Model((*participantRow)(nil)).Column("chat_id").Where("jid = ?", lid).
		Order("chat_id").Scan(ctx, &groups); err != nil {
		return fmt.Errorf("memberships of %s: %w", lid, err)
	}
	if len(groups) == 0 {
		return nil
	}
	if _, err := tx.NewUpdate().Model((*participantRow)(nil)).Set("jid = ?, contact_id = COALESCE(?, contact_id)", phoneJID, contactID).
		Where("jid = ? AND NOT EXISTS (SELECT 1 FROM group_participants AS x WHERE x.chat_id = gp.chat_id AND x.jid = ?)", lid, phoneJID).
		Exec(ctx); err != nil {
		return fmt.Errorf("move memberships of %s: %w", lid, err)
	}
	if _, err := tx.NewDelete().Model((*participantRow)(nil)).Where("jid = ?", lid).Exec(ctx); err != nil {
		return fmt.Errorf("drop doubled memberships of %s: %w", lid, err)
	}
	if _, err := tx.NewUpdate().TableExpr("chats AS c").Set(participantCount).Where("c.id IN (?)", bun.List(groups)).Exec(ctx); err != nil {
		return fmt.Errorf("recount members: %w", err)
	}
	out.touched = append(out.touched, groups...)
	out.memberships += len(groups)
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// IdentityRepair is what RepairIdentities did.
type IdentityRepair struct {
	// People whose LID still held chats or memberships.
	People int
	// Merged are LID chats merged into the person's phone chat; Renamed
	// counts LID chats that became the phone chat.
	Merged  []chatsync.ChatMerge
	Renamed int
	// Memberships counts group memberships moved to the phone JID.
	Memberships int
}

// RepairIdentities merges what a workspace still stores under a LID whose
// phone JID is known (splits stored before chatsync merged identities, or
// left by the race described above): the same merge a link makes, one
// person per transaction. Running it again finds nothing.
func (s *Store) RepairIdentities(ctx context.Context, workspaceID int64) (IdentityRepair, error) {
	var people []contactRow
	err := s.db.NewSelect().Model(&people).Column("id", "phone_jid", "lid_jid").
		Where("workspace_id = ? AND phone_jid IS NOT NULL AND lid_jid IS NOT NULL", workspaceID).
		Where(`(EXISTS (SELECT 1 FROM chats AS c WHERE c.session_id IN (SELECT id FROM sessions WHERE workspace_id = ?) AND c.jid = ct.lid_jid)
			OR EXISTS (SELECT 1 FROM group_participants AS gp WHERE gp.jid = ct.lid_jid
				AND gp.chat_id IN (SELECT c.id FROM chats AS c WHERE c.workspace_id = ?)))`, workspaceID, workspaceID).
		Order("id").Scan(ctx)
	if err != nil {
		return IdentityRepair{}, fmt.Errorf("find split identities: %w", err)
	}
	var rep IdentityRepair
	for _, p := range people {
		var links linkResult
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			links = linkResult{}
			return s.mergeIdentity(ctx, tx, workspaceID, *p.PhoneJID, *p.LIDJID, &p.ID, &links)
		})
		if err != nil {
			return rep, fmt.Errorf("merge %s into %s: %w", *p.LIDJID, *p.PhoneJID, err)
		}
		rep.People++
		rep.Merged = append(rep.Merged, links.merged...)
		rep.Renamed += links.renamed
		rep.Memberships += links.memberships
	}
	return rep, nil
}

// laterMute is the later of two mutes (nil: never muted).
func laterMute(a, b *time.Time) *time.Time {
	if a == nil || b != nil && b.After(*a) {
		return b
	}
	return a
}
