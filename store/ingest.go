package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/phone"
)

// Written is what one chunk wrote: the chats as clients now see them and
// the messages that were new.
type Written struct {
	Chats    []chatsync.ChatView
	Messages []chatsync.Message
}

// epoch is the stored "no time yet" (columns are NOT NULL for keyset order).
var epoch = time.Unix(0, 0).UTC()

// WriteChunk upserts chats (with their contacts, groups, participants and
// messages) and contacts of one session in one transaction. Every write is
// keyed on WhatsApp identity, so writing the same input twice leaves the
// rows of writing it once, and older input never overwrites newer state.
// The inputs must have passed Validate.
func (s *Store) WriteChunk(ctx context.Context, workspaceID, sessionID int64, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) (Written, error) {
	var w Written
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if s.pg {
			// Safe: the batch row is committed durably before processing and
			// marked completed only by a synchronous commit after its chunks,
			// which WAL order makes durable together with every chunk before
			// it. A crash loses at most chunks of a batch still pending,
			// which the sweeper reprocesses.
			if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
				return err
			}
		}
		var err error
		w, err = s.writeChunk(ctx, tx, workspaceID, sessionID, chats, contacts)
		return err
	})
	if err != nil {
		return Written{}, fmt.Errorf("write chunk of %d chats: %w", len(chats), err)
	}
	return w, nil
}

func (s *Store) writeChunk(ctx context.Context, tx bun.Tx, wsID, sessionID int64, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) (Written, error) {
	now := s.now()
	chats = mergeChats(chats)

	// Contacts first: private chats point at them.
	all := append([]chatsync.ContactInput(nil), contacts...)
	for _, c := range chats {
		if c.Type != chatsync.ChatPrivate {
			continue
		}
		ci := chatsync.ContactInput{JID: c.JID}
		if c.Contact != nil {
			ci = *c.Contact
		}
		all = append(all, ci)
	}
	contactIDs, err := s.upsertContacts(ctx, tx, wsID, all, now)
	if err != nil {
		return Written{}, fmt.Errorf("contacts: %w", err)
	}

	chatIDs, err := s.upsertChats(ctx, tx, wsID, sessionID, chats, contactIDs, now)
	if err != nil {
		return Written{}, fmt.Errorf("chats: %w", err)
	}
	if err := s.writeGroups(ctx, tx, chats, chatIDs, now); err != nil {
		return Written{}, fmt.Errorf("groups: %w", err)
	}
	msgs, err := s.insertMessages(ctx, tx, chats, chatIDs, now)
	if err != nil {
		return Written{}, fmt.Errorf("messages: %w", err)
	}
	ids := make([]int64, 0, len(chatIDs))
	for _, id := range chatIDs {
		ids = append(ids, id)
	}
	views, err := chatViews(ctx, tx, wsID, ids)
	if err != nil {
		return Written{}, fmt.Errorf("load written chats: %w", err)
	}
	return Written{Chats: views, Messages: msgs}, nil
}

// mergeChats folds repeated JIDs of one chunk into one input (the later
// one's fields, all messages), since one upsert statement may not touch a
// row twice.
func mergeChats(in []chatsync.ChatInput) []chatsync.ChatInput {
	idx := make(map[string]int, len(in))
	out := make([]chatsync.ChatInput, 0, len(in))
	for _, c := range in {
		i, seen := idx[c.JID]
		if !seen {
			idx[c.JID] = len(out)
			out = append(out, c)
			continue
		}
		msgs := append(out[i].Messages, c.Messages...)
		if c.LastActivity.Before(out[i].LastActivity) {
			c.LastActivity = out[i].LastActivity
		}
		out[i] = c
		out[i].Messages = msgs
	}
	return out
}

// contactKeys splits a contact's JIDs into its phone JID and its LID.
func contactKeys(c chatsync.ContactInput) (phoneJID, lid string) {
	for _, j := range []string{c.JID, c.AltJID} {
		switch {
		case strings.HasSuffix(j, "@"+chatsync.ServerUser):
			phoneJID = j
		case strings.HasSuffix(j, "@"+chatsync.ServerLID):
			lid = j
		}
	}
	return phoneJID, lid
}

// upsertContacts writes contacts and returns their IDs by every JID given.
func (s *Store) upsertContacts(ctx context.Context, tx bun.Tx, wsID int64, in []chatsync.ContactInput, now time.Time) (map[string]int64, error) {
	byPhone := map[string]*contactRow{}
	byLID := map[string]*contactRow{}
	var order []*contactRow
	for _, c := range in {
		pj, lid := contactKeys(c)
		var row *contactRow
		switch {
		case pj != "":
			row = byPhone[pj]
		case lid != "":
			row = byLID[lid]
		default:
			continue
		}
		if row == nil {
			row = &contactRow{WorkspaceID: wsID, UpdatedAt: now}
			order = append(order, row)
		}
		if pj != "" {
			row.PhoneJID = &pj
			byPhone[pj] = row
		}
		if lid != "" {
			row.LIDJID = &lid
			byLID[lid] = row
		}
		raw := c.Phone
		if raw == "" && pj != "" {
			raw = phone.FromJID(pj)
		}
		if raw != "" {
			row.PhoneRaw = raw
			row.PhoneE164, row.PhoneValid = phone.Normalize(raw)
		}
		if c.PushName != "" {
			row.PushName = c.PushName
		}
		if c.FullName != "" {
			row.FullName = c.FullName
		}
	}
	// A LID-only contact stored earlier merges into the phone contact once a
	// mapping arrives.
	for _, r := range order {
		if r.PhoneJID != nil && r.LIDJID != nil {
			if err := s.linkLID(ctx, tx, wsID, *r.PhoneJID, *r.LIDJID); err != nil {
				return nil, err
			}
		}
	}
	var withPhone, lidOnly []contactRow
	for _, r := range order {
		if r.PhoneJID != nil {
			withPhone = append(withPhone, *r)
		} else {
			lidOnly = append(lidOnly, *r)
		}
	}
	ids := make(map[string]int64, len(order)*2)
	const set = `lid_jid = COALESCE(EXCLUDED.lid_jid, ct.lid_jid),
		phone_raw = CASE WHEN EXCLUDED.phone_raw <> '' THEN EXCLUDED.phone_raw ELSE ct.phone_raw END,
		phone_e164 = CASE WHEN EXCLUDED.phone_raw <> '' THEN EXCLUDED.phone_e164 ELSE ct.phone_e164 END,
		phone_valid = CASE WHEN EXCLUDED.phone_raw <> '' THEN EXCLUDED.phone_valid ELSE ct.phone_valid END,
		push_name = CASE WHEN EXCLUDED.push_name <> '' THEN EXCLUDED.push_name ELSE ct.push_name END,
		full_name = CASE WHEN EXCLUDED.full_name <> '' THEN EXCLUDED.full_name ELSE ct.full_name END,
		updated_at = EXCLUDED.updated_at`
	for _, part := range []struct {
		rows     []contactRow
		conflict string
	}{
		{withPhone, "CONFLICT (workspace_id, phone_jid) DO UPDATE"},
		{lidOnly, "CONFLICT (workspace_id, lid_jid) DO UPDATE"},
	} {
		if len(part.rows) == 0 {
			continue
		}
		var got []contactRow
		err := tx.NewInsert().Model(&part.rows).On(part.conflict).Set(set).
			Returning("id, phone_jid, lid_jid").Scan(ctx, &got)
		if err != nil {
			return nil, err
		}
		for _, g := range got {
			if g.PhoneJID != nil {
				ids[*g.PhoneJID] = g.ID
			}
			if g.LIDJID != nil {
				ids[*g.LIDJID] = g.ID
			}
		}
	}
	return ids, nil
}

// linkLID makes sure no other row holds lid before the phone contact takes
// it: a LID-only row merges into the phone row (chats and participants
// follow), or becomes the phone row when there is none yet.
func (s *Store) linkLID(ctx context.Context, tx bun.Tx, wsID int64, phoneJID, lid string) error {
	var rows []contactRow
	err := tx.NewSelect().Model(&rows).Column("id", "phone_jid", "lid_jid").
		Where("workspace_id = ? AND (phone_jid = ? OR lid_jid = ?)", wsID, phoneJID, lid).Scan(ctx)
	if err != nil {
		return err
	}
	var phoneRow, lidRow *contactRow
	for i := range rows {
		r := &rows[i]
		if r.PhoneJID != nil && *r.PhoneJID == phoneJID {
			phoneRow = r
		} else {
			lidRow = r
		}
	}
	if lidRow == nil {
		return nil
	}
	if lidRow.PhoneJID != nil {
		// The LID moved to another number: the old holder lets go of it.
		_, err := tx.NewUpdate().Model((*contactRow)(nil)).Set("lid_jid = NULL").Where("id = ?", lidRow.ID).Exec(ctx)
		return err
	}
	if phoneRow == nil {
		_, err := tx.NewUpdate().Model((*contactRow)(nil)).Set("phone_jid = ?", phoneJID).Where("id = ?", lidRow.ID).Exec(ctx)
		return err
	}
	for _, table := range []string{"chats", "group_participants"} {
		if _, err := tx.NewUpdate().Table(table).Set("contact_id = ?", phoneRow.ID).
			Where("contact_id = ?", lidRow.ID).Exec(ctx); err != nil {
			return err
		}
	}
	_, err = tx.NewDelete().Model((*contactRow)(nil)).Where("id = ?", lidRow.ID).Exec(ctx)
	return err
}

func (s *Store) upsertChats(ctx context.Context, tx bun.Tx, wsID, sessionID int64, chats []chatsync.ChatInput, contactIDs map[string]int64, now time.Time) (map[string]int64, error) {
	if len(chats) == 0 {
		return map[string]int64{}, nil
	}
	rows := make([]chatRow, len(chats))
	for i, c := range chats {
		r := chatRow{
			WorkspaceID: wsID, SessionID: sessionID, JID: c.JID, Type: string(c.Type), Name: c.Name,
			UnreadCount: c.UnreadCount, Archived: c.Archived, Pinned: c.Pinned,
			LastActivityAt: epoch, LastMessageAt: epoch, CreatedAt: now, UpdatedAt: now,
		}
		if !c.LastActivity.IsZero() {
			r.LastActivityAt = c.LastActivity.UTC()
		}
		if m := newestMessage(c.Messages); m != nil {
			r.LastMessageAt = m.Timestamp.UTC()
			r.LastMessagePreview = preview(m)
			if r.LastMessageAt.After(r.LastActivityAt) {
				r.LastActivityAt = r.LastMessageAt
			}
		}
		var names []string
		if c.Name != "" {
			names = append(names, c.Name)
		}
		if c.Type == chatsync.ChatPrivate {
			ci := chatsync.ContactInput{JID: c.JID}
			if c.Contact != nil {
				ci = *c.Contact
			}
			if id, ok := contactIDs[c.JID]; ok {
				r.ContactID = &id
			}
			names = append(names, ci.PushName, ci.FullName, ci.Phone)
			if p := phone.FromJID(c.JID); p != "" {
				names = append(names, "+"+p)
			}
		} else if c.Group != nil && c.Group.Subject != "" && c.Name == "" {
			r.Name = c.Group.Subject
			names = append(names, c.Group.Subject)
		}
		r.SearchText = strings.ToLower(strings.Join(slices.DeleteFunc(names, func(s string) bool { return s == "" }), " "))
		rows[i] = r
	}
	g := s.greatest()
	var got []chatRow
	err := tx.NewInsert().Model(&rows).On("CONFLICT (session_id, jid) DO UPDATE").
		Set("name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE c.name END").
		Set("search_text = CASE WHEN EXCLUDED.search_text <> '' THEN EXCLUDED.search_text ELSE c.search_text END").
		Set("contact_id = COALESCE(EXCLUDED.contact_id, c.contact_id)").
		// State the phone reports (unread, archived, pinned) follows the
		// newest report only.
		Set("unread_count = CASE WHEN EXCLUDED.last_activity_at >= c.last_activity_at THEN EXCLUDED.unread_count ELSE c.unread_count END").
		Set("archived = CASE WHEN EXCLUDED.last_activity_at >= c.last_activity_at THEN EXCLUDED.archived ELSE c.archived END").
		Set("pinned = CASE WHEN EXCLUDED.last_activity_at >= c.last_activity_at THEN EXCLUDED.pinned ELSE c.pinned END").
		Set("last_message_preview = CASE WHEN EXCLUDED.last_message_at > c.last_message_at THEN EXCLUDED.last_message_preview ELSE c.last_message_preview END").
		Set("last_message_at = "+g+"(EXCLUDED.last_message_at, c.last_message_at)").
		Set("last_activity_at = "+g+"(EXCLUDED.last_activity_at, c.last_activity_at)").
		Set("updated_at = EXCLUDED.updated_at").
		Returning("id, jid").Scan(ctx, &got)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]int64, len(got))
	for _, r := range got {
		ids[r.JID] = r.ID
	}
	return ids, nil
}

func newestMessage(ms []chatsync.MessageInput) *chatsync.MessageInput {
	var best *chatsync.MessageInput
	for i := range ms {
		if best == nil || ms[i].Timestamp.After(best.Timestamp) {
			best = &ms[i]
		}
	}
	return best
}

func preview(m *chatsync.MessageInput) string {
	t := strings.TrimSpace(m.Text)
	if t == "" && m.MediaType != chatsync.MediaNone {
		t = "[" + string(m.MediaType) + "]"
	}
	if utf8.RuneCountInString(t) <= chatsync.MaxPreviewRunes {
		return t
	}
	r := []rune(t)
	return string(r[:chatsync.MaxPreviewRunes-1]) + "…"
}

func (s *Store) writeGroups(ctx context.Context, tx bun.Tx, chats []chatsync.ChatInput, chatIDs map[string]int64, now time.Time) error {
	var groups []groupRow
	var touched []int64
	var snapshot []participantRow
	var snapshotChats []int64
	for _, c := range chats {
		if c.Type != chatsync.ChatGroup || c.Group == nil {
			continue
		}
		id := chatIDs[c.JID]
		g := c.Group
		groups = append(groups, groupRow{ChatID: id, Subject: g.Subject, Description: g.Description, OwnerJID: g.OwnerJID, UpdatedAt: now})
		if len(g.Participants) > 0 || len(g.Changes) > 0 {
			touched = append(touched, id)
		}
		if len(g.Participants) > 0 {
			snapshotChats = append(snapshotChats, id)
			seen := make(map[string]bool, len(g.Participants))
			for _, p := range g.Participants {
				if seen[p.JID] {
					continue
				}
				seen[p.JID] = true
				snapshot = append(snapshot, participantRow{ChatID: id, JID: p.JID, Role: string(cmp.Or(p.Role, chatsync.RoleMember)), PhoneE164: participantPhone(p.JID, p.Phone)})
			}
		}
	}
	if len(groups) == 0 {
		return nil
	}
	_, err := tx.NewInsert().Model(&groups).On("CONFLICT (chat_id) DO UPDATE").
		Set("subject = CASE WHEN EXCLUDED.subject <> '' THEN EXCLUDED.subject ELSE g.subject END").
		Set("description = CASE WHEN EXCLUDED.description <> '' THEN EXCLUDED.description ELSE g.description END").
		Set("owner_jid = CASE WHEN EXCLUDED.owner_jid <> '' THEN EXCLUDED.owner_jid ELSE g.owner_jid END").
		Set("updated_at = EXCLUDED.updated_at").Exec(ctx)
	if err != nil {
		return err
	}
	if len(snapshot) > 0 {
		// A complete member list replaces the stored one.
		if _, err := tx.NewDelete().Model((*participantRow)(nil)).Where("chat_id IN (?)", bun.In(snapshotChats)).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&snapshot).Exec(ctx); err != nil {
			return err
		}
	}
	for _, c := range chats {
		if c.Type != chatsync.ChatGroup || c.Group == nil {
			continue
		}
		for _, ch := range c.Group.Changes {
			if err := applyChange(ctx, tx, chatIDs[c.JID], ch); err != nil {
				return err
			}
		}
	}
	if len(touched) == 0 {
		return nil
	}
	_, err = tx.NewUpdate().Model((*chatRow)(nil)).
		Set("participant_count = (SELECT count(*) FROM group_participants AS gp WHERE gp.chat_id = c.id)").
		Where("id IN (?)", bun.In(touched)).Exec(ctx)
	return err
}

func participantPhone(jid, raw string) string {
	if raw == "" {
		raw = phone.FromJID(jid)
	}
	e164, _ := phone.Normalize(raw)
	return e164
}

func applyChange(ctx context.Context, tx bun.Tx, chatID int64, ch chatsync.ParticipantChange) error {
	switch ch.Action {
	case chatsync.ActionLeave:
		_, err := tx.NewDelete().Model((*participantRow)(nil)).Where("chat_id = ? AND jid = ?", chatID, ch.JID).Exec(ctx)
		return err
	case chatsync.ActionJoin:
		row := participantRow{ChatID: chatID, JID: ch.JID, Role: string(chatsync.RoleMember), PhoneE164: participantPhone(ch.JID, ch.Phone)}
		_, err := tx.NewInsert().Model(&row).On("CONFLICT (chat_id, jid) DO NOTHING").Exec(ctx)
		return err
	case chatsync.ActionPromote, chatsync.ActionDemote:
		role := chatsync.RoleAdmin
		if ch.Action == chatsync.ActionDemote {
			role = chatsync.RoleMember
		}
		row := participantRow{ChatID: chatID, JID: ch.JID, Role: string(role), PhoneE164: participantPhone(ch.JID, ch.Phone)}
		_, err := tx.NewInsert().Model(&row).On("CONFLICT (chat_id, jid) DO UPDATE").Set("role = EXCLUDED.role").Exec(ctx)
		return err
	}
	return fmt.Errorf("unknown participant action %q", ch.Action)
}

func (s *Store) insertMessages(ctx context.Context, tx bun.Tx, chats []chatsync.ChatInput, chatIDs map[string]int64, now time.Time) ([]chatsync.Message, error) {
	var rows []messageRow
	for _, c := range chats {
		id := chatIDs[c.JID]
		seen := make(map[string]bool, len(c.Messages))
		for _, m := range c.Messages {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			rows = append(rows, messageRow{
				ChatID: id, WAID: m.ID, SenderJID: m.SenderJID, FromMe: m.FromMe, SentAt: m.Timestamp.UTC(),
				Text: m.Text, MediaType: string(m.MediaType), CreatedAt: now,
			})
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	// Messages are immutable: a redelivered message changes nothing and is
	// not reported as new.
	var got []messageRow
	err := tx.NewInsert().Model(&rows).On("CONFLICT (chat_id, wa_id) DO NOTHING").
		Returning("id, chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type").Scan(ctx, &got)
	if err != nil {
		return nil, err
	}
	out := make([]chatsync.Message, len(got))
	for i, r := range got {
		out[i] = r.domain()
	}
	return out, nil
}

func (r *messageRow) domain() chatsync.Message {
	return chatsync.Message{
		ID: r.ID, ChatID: r.ChatID, WAID: r.WAID, SenderJID: r.SenderJID, FromMe: r.FromMe,
		SentAt: r.SentAt.UTC(), Text: r.Text, MediaType: chatsync.MediaType(r.MediaType),
	}
}
