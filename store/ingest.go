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

// Written is what one chunk wrote: the chats as clients now see them, and
// their IDs, and the messages that were new.
type Written struct {
	Chats    []chatsync.ChatView
	ChatIDs  []int64
	Messages []chatsync.Message
	// Updated are stored messages an edit, revoke or reaction changed.
	Updated []chatsync.Message
	// Merged are chats merged into another (one person's LID and phone
	// chats, identity.go): From no longer exists.
	Merged []chatsync.ChatMerge
}

// ChatViews returns chats of a workspace by ID as clients see them, newest
// activity first.
func (s *Store) ChatViews(ctx context.Context, workspaceID int64, ids []int64) ([]chatsync.ChatView, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// Selected by primary key alone and checked for the workspace here:
	// with the workspace in the condition, the planner (on statistics from
	// when the table was small) intersected the primary key with the
	// workspace's whole activity index, a cost that grows with the table.
	if s.pg {
		views, err := s.chatViewsPG(ctx, workspaceID, ids)
		if err != nil {
			return nil, fmt.Errorf("load %d chats: %w", len(ids), err)
		}
		return views, nil
	}
	var rows []chatViewRow
	err := chatViewQuery(s.db).Where("c.id IN (?)", bun.List(ids)).
		OrderExpr("c.last_activity_at DESC, c.id DESC").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("load %d chats: %w", len(ids), err)
	}
	out := make([]chatsync.ChatView, 0, len(rows))
	for i := range rows {
		if rows[i].WorkspaceID == workspaceID {
			out = append(out, rows[i].domain())
		}
	}
	return out, nil
}

// epoch is the stored "no time yet" (columns are NOT NULL for keyset order).
var epoch = time.Unix(0, 0).UTC()

// WriteChunk upserts chats (with their contacts, groups, participants and
// messages) and contacts of one session in one transaction. Every write is
// keyed on WhatsApp identity, so writing the same input twice leaves the
// rows of writing it once, and older input never overwrites newer state.
// The inputs must have passed Validate.
//
// On PostgreSQL the whole chunk goes to the server as one pipeline of
// set-based statements (see ingest_pg.go); on SQLite, and on PostgreSQL for
// the rare chunk that links a LID to a phone number, it runs statement by
// statement through Bun. Both write the same rows (the store tests run on
// both).
func (s *Store) WriteChunk(ctx context.Context, workspaceID, sessionID int64, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) (Written, error) {
	w, err := s.IngestChunk(ctx, workspaceID, sessionID, chats, contacts)
	if err != nil {
		return w, err
	}
	// Read after the commit: clients see what is stored, whichever write
	// won a race.
	if w.Chats, err = s.ChatViews(ctx, workspaceID, w.ChatIDs); err != nil {
		return Written{}, err
	}
	return w, nil
}

// IngestChunk is WriteChunk without loading the views (Written.Chats stays
// empty): the worker loads the views of a whole batch at once with
// ChatViews.
func (s *Store) IngestChunk(ctx context.Context, workspaceID, sessionID int64, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) (Written, error) {
	n := len(chats)
	chats, contacts, err := s.canonicalize(ctx, workspaceID, chats, contacts)
	if err != nil {
		return Written{}, fmt.Errorf("write chunk of %d chats: %w", n, err)
	}
	p := s.plan(workspaceID, sessionID, chats, contacts)
	if err := p.storable(); err != nil {
		return Written{}, fmt.Errorf("write chunk of %d chats: %w", n, err)
	}
	var ids []int64
	var msgs []chatsync.Message
	var links linkResult
	if s.pg && !p.link {
		ids, msgs, err = s.writePipelined(ctx, p)
	} else {
		ids, msgs, links, err = s.writeBun(ctx, p)
	}
	if err != nil {
		return Written{}, fmt.Errorf("write chunk of %d chats: %w", n, err)
	}
	gone := make(map[int64]bool, len(links.merged))
	for _, m := range links.merged {
		gone[m.From] = true
	}
	for _, id := range links.touched {
		if !gone[id] && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	updated, err := s.applyUpdates(ctx, p, msgs, ids)
	if err != nil {
		return Written{}, fmt.Errorf("write chunk of %d chats: %w", n, err)
	}
	return Written{ChatIDs: ids, Messages: msgs, Updated: updated, Merged: links.merged}, nil
}

// chunkPlan is a chunk turned into rows, keyed on WhatsApp identity (JIDs)
// rather than on row IDs, which only the database knows.
type chunkPlan struct {
	wsID, sessionID int64
	now             time.Time
	phones          *phoneCache
	// contacts are deduplicated: one row per person of the chunk.
	contacts []*contactRow
	// link is set when a contact carries both its phone JID and its LID:
	// linking them may merge two stored contacts (linkLID).
	link bool
	// chats, one per JID; ContactID is resolved when writing. Their
	// unread count, archived and pinned are the report's or zero; state
	// (same index) says which of them the report carries.
	chats  []chatRow
	state  []chatState
	groups []groupPlan
	// snapshotChats are the groups whose complete member list is given;
	// snapshot holds those members.
	snapshotChats []string
	snapshot      []memberPlan
	// changes are membership changes, in order.
	changes []changePlan
	// touched are the groups whose participant count must be recounted;
	// changed those of them with membership changes; counts the sizes of
	// the complete member lists.
	touched  []string
	changed  []string
	counts   map[string]int32
	messages []messagePlan
	// updates are the chunk's edits, revokes and reactions (lifecycle.go).
	updates []updatePlan
}

// chatState is what a report says about a chat's state (nil: it does not
// know), and how many of its messages are not from me (they raise the
// stored unread count when the report carries none, if they are new).
type chatState struct {
	unread                         *int32
	archived, pinned, markedUnread *bool
	mutedUntil                     *time.Time
	fromThem                       int32
}

// storable finds a value no engine can store: PostgreSQL's text refuses
// U+0000 and invalid UTF-8, and Bun cannot quote a NUL for SQLite.
func (p *chunkPlan) storable() error {
	var bad string
	check := func(what string, vals ...string) {
		for _, v := range vals {
			if bad == "" && (strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v)) {
				bad = what
			}
		}
	}
	for _, c := range p.contacts {
		check("contact", deref(c.PhoneJID), deref(c.LIDJID), c.PhoneRaw, c.PhoneE164, c.PushName, c.FullName)
	}
	for _, c := range p.chats {
		check("chat "+c.JID, c.JID, c.Name, c.SearchText, c.LastMessagePreview)
	}
	for _, g := range p.groups {
		check("group "+g.chatJID, g.row.Subject, g.row.Description, g.row.OwnerJID)
	}
	for _, m := range p.snapshot {
		check("member of "+m.chatJID, m.row.JID, m.row.PhoneE164)
	}
	for _, c := range p.changes {
		check("member change of "+c.chatJID, c.change.JID, c.change.Phone)
	}
	for _, m := range p.messages {
		check("message of "+m.chatJID, m.row.WAID, m.row.SenderJID, m.row.Text, m.row.MediaType)
	}
	if bad != "" {
		return fmt.Errorf("%s: a NUL character or invalid UTF-8: %w", strings.ToValidUTF8(strings.ReplaceAll(bad, "\x00", ""), ""), errUnstorable)
	}
	return nil
}

type groupPlan struct {
	chatJID string
	row     groupRow
}

type memberPlan struct {
	chatJID string
	row     participantRow
}

type changePlan struct {
	chatJID string
	change  chatsync.ParticipantChange
}

type messagePlan struct {
	chatJID string
	row     messageRow
}

func (s *Store) plan(wsID, sessionID int64, in []chatsync.ChatInput, contacts []chatsync.ContactInput) chunkPlan {
	p := chunkPlan{wsID: wsID, sessionID: sessionID, now: s.now(), phones: s.phones}
	in, p.updates = splitUpdates(in)
	chats := mergeChats(in)

	// Contacts first: private chats point at them, and members who carry
	// their LID mapping are people too.
	all := append([]chatsync.ContactInput(nil), contacts...)
	for _, c := range chats {
		switch {
		case c.Type == chatsync.ChatPrivate && c.Contact != nil:
			all = append(all, *c.Contact)
		case c.Type == chatsync.ChatPrivate:
			all = append(all, chatsync.ContactInput{JID: c.JID})
		case c.Group != nil:
			for _, m := range c.Group.Participants {
				if m.AltJID != "" {
					all = append(all, chatsync.ContactInput{JID: m.JID, AltJID: m.AltJID, Phone: m.Phone})
				}
			}
		}
	}
	p.contacts, p.link = s.contactRows(wsID, all, p.now)

	p.chats = make([]chatRow, len(chats))
	p.state = make([]chatState, len(chats))
	for i, c := range chats {
		p.chats[i] = s.chatRow(wsID, sessionID, c, p.now)
		p.state[i] = chatState{unread: c.UnreadCount, archived: c.Archived, pinned: c.Pinned, markedUnread: c.MarkedUnread}
		if c.MutedUntil != nil {
			p.state[i].mutedUntil = new(c.MutedUntil.UTC())
		}
		p.planGroup(c)
		// One row per message ID: the first report of it, but the real
		// message over a placeholder of it (both may share a live batch).
		seen := make(map[string]int, len(c.Messages))
		for _, m := range c.Messages {
			row := messageRow{
				WAID: m.ID, SenderJID: m.SenderJID, FromMe: m.FromMe, SentAt: m.Timestamp.UTC(),
				Text: m.Text, MediaType: string(m.MediaType), Waiting: m.Waiting, CreatedAt: p.now, Status: int16(m.Status),
			}
			if k, ok := seen[m.ID]; ok {
				status := max(p.messages[k].row.Status, row.Status)
				if p.messages[k].row.Waiting && !m.Waiting {
					p.messages[k].row = row
				}
				p.messages[k].row.Status = status
				continue
			}
			seen[m.ID] = len(p.messages)
			if !m.FromMe {
				p.state[i].fromThem++
			}
			p.messages = append(p.messages, messagePlan{chatJID: c.JID, row: row})
		}
	}
	return p
}

func (p *chunkPlan) planGroup(c chatsync.ChatInput) {
	if c.Type != chatsync.ChatGroup || c.Group == nil {
		return
	}
	g := c.Group
	p.groups = append(p.groups, groupPlan{chatJID: c.JID, row: groupRow{Subject: g.Subject, Description: g.Description, OwnerJID: g.OwnerJID, UpdatedAt: p.now}})
	if len(g.Participants) > 0 || len(g.Changes) > 0 {
		p.touched = append(p.touched, c.JID)
	}
	if len(g.Changes) > 0 {
		p.changed = append(p.changed, c.JID)
	}
	if len(g.Participants) > 0 {
		p.snapshotChats = append(p.snapshotChats, c.JID)
		seen := make(map[string]bool, len(g.Participants))
		for _, m := range g.Participants {
			if seen[m.JID] {
				continue
			}
			seen[m.JID] = true
			p.snapshot = append(p.snapshot, memberPlan{chatJID: c.JID, row: participantRow{
				JID: m.JID, Role: string(cmp.Or(m.Role, chatsync.RoleMember)), PhoneE164: p.phones.participantPhone(m.JID, m.Phone),
			}})
		}
		if p.counts == nil {
			p.counts = map[string]int32{}
		}
		p.counts[c.JID] = int32(len(seen))
	}
	for _, ch := range g.Changes {
		p.changes = append(p.changes, changePlan{chatJID: c.JID, change: ch})
	}
}

// writeBun writes a planned chunk statement by statement in a Bun
// transaction and returns the IDs of its chats and its new messages.
func (s *Store) writeBun(ctx context.Context, p chunkPlan) ([]int64, []chatsync.Message, linkResult, error) {
	var ids []int64
	var msgs []chatsync.Message
	var links linkResult
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		links = linkResult{}
		if s.pg {
			// See writeSettings in ingest_pg.go.
			if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
				return err
			}
		}
		contactIDs, err := s.upsertContacts(ctx, tx, p, &links)
		if err != nil {
			return fmt.Errorf("contacts: %w", err)
		}
		chatIDs, err := s.upsertChats(ctx, tx, p, contactIDs)
		if err != nil {
			return fmt.Errorf("chats: %w", err)
		}
		if err := s.writeGroups(ctx, tx, p, chatIDs); err != nil {
			return fmt.Errorf("groups: %w", err)
		}
		stored, err := s.insertMessages(ctx, tx, p, chatIDs)
		if err != nil {
			return fmt.Errorf("messages: %w", err)
		}
		if err := s.mergeState(ctx, tx, p, chatIDs, stored); err != nil {
			return fmt.Errorf("chat state: %w", err)
		}
		msgs = make([]chatsync.Message, len(stored))
		for i := range stored {
			msgs[i] = stored[i].Message
		}
		ids = make([]int64, 0, len(chatIDs))
		for _, c := range p.chats {
			ids = append(ids, chatIDs[c.JID])
		}
		return nil
	})
	return ids, msgs, links, err
}

// mergeChats folds repeated JIDs of one chunk into one input, since one
// upsert statement may not touch a row twice: the newest report's fields
// (by activity), the other's where the newest does not carry them (state,
// contact, group), and every message.
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
		newer, older := c, out[i]
		if activity(c).Before(activity(older)) {
			newer, older = older, c
		}
		if newer.Contact == nil {
			newer.Contact = older.Contact
		}
		if newer.Group == nil {
			newer.Group = older.Group
		}
		newer.UnreadCount = cmp.Or(newer.UnreadCount, older.UnreadCount)
		newer.Archived = cmp.Or(newer.Archived, older.Archived)
		newer.Pinned = cmp.Or(newer.Pinned, older.Pinned)
		if newer.LastActivity.Before(older.LastActivity) {
			newer.LastActivity = older.LastActivity
		}
		newer.Messages = slices.Concat(out[i].Messages, c.Messages)
		out[i] = newer
	}
	return out
}

// activity is when a chat was last active as far as its input tells.
func activity(c chatsync.ChatInput) time.Time {
	at := c.LastActivity
	if m := newestMessage(c.Messages); m != nil && m.Timestamp.After(at) {
		at = m.Timestamp
	}
	return at
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

// contactRows folds contacts into one row per person (a phone JID, a LID,
// or both), with phones normalised to E.164; an unnormalisable number is
// kept raw and flagged invalid. link reports a row carrying both JIDs.
func (s *Store) contactRows(wsID int64, in []chatsync.ContactInput, now time.Time) (order []*contactRow, link bool) {
	byPhone := map[string]*contactRow{}
	byLID := map[string]*contactRow{}
	for _, c := range in {
		pj, lid := contactKeys(c)
		var row *contactRow
		switch {
		case pj != "":
			row = byPhone[pj]
			if l := byLID[lid]; row == nil && lid != "" && l != nil && l.PhoneJID == nil {
				row = l // the LID seen alone earlier in the chunk is this person
			}
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
			row.PhoneE164, row.PhoneValid = s.phones.normalize(raw)
		}
		if c.PushName != "" {
			row.PushName = c.PushName
		}
		if c.FullName != "" {
			row.FullName = c.FullName
		}
	}
	for _, r := range order {
		if r.PhoneJID != nil && r.LIDJID != nil {
			link = true
		}
	}
	return order, link
}

// contactSet is the ON CONFLICT update of a contact: a non-empty value
// replaces the stored one, an empty one keeps it.
const contactSet = `lid_jid = COALESCE(EXCLUDED.lid_jid, ct.lid_jid),
		phone_raw = CASE WHEN EXCLUDED.phone_raw <> '' THEN EXCLUDED.phone_raw ELSE ct.phone_raw END,
		phone_e164 = CASE WHEN EXCLUDED.phone_raw <> '' THEN EXCLUDED.phone_e164 ELSE ct.phone_e164 END,
		phone_valid = CASE WHEN EXCLUDED.phone_raw <> '' THEN EXCLUDED.phone_valid ELSE ct.phone_valid END,
		push_name = CASE WHEN EXCLUDED.push_name <> '' THEN EXCLUDED.push_name ELSE ct.push_name END,
		full_name = CASE WHEN EXCLUDED.full_name <> '' THEN EXCLUDED.full_name ELSE ct.full_name END,
		updated_at = EXCLUDED.updated_at`

// upsertContacts writes the plan's contacts and returns their IDs by every
// JID given.
func (s *Store) upsertContacts(ctx context.Context, tx bun.Tx, p chunkPlan, links *linkResult) (map[string]int64, error) {
	// A LID-only contact stored earlier merges into the phone contact once a
	// mapping arrives.
	for _, r := range p.contacts {
		if r.PhoneJID != nil && r.LIDJID != nil {
			if err := s.linkLID(ctx, tx, p.wsID, *r.PhoneJID, *r.LIDJID, links); err != nil {
				return nil, err
			}
		}
	}
	var withPhone, lidOnly []contactRow
	for _, r := range p.contacts {
		if r.PhoneJID != nil {
			withPhone = append(withPhone, *r)
		} else {
			lidOnly = append(lidOnly, *r)
		}
	}
	ids := make(map[string]int64, len(p.contacts)*2)
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
		err := tx.NewInsert().Model(&part.rows).On(part.conflict).Set(contactSet).
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
// follow), or becomes the phone row when there is none yet; what is stored
// under the LID then moves to the phone JID (mergeIdentity).
func (s *Store) linkLID(ctx context.Context, tx bun.Tx, wsID int64, phoneJID, lid string, links *linkResult) error {
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
		if phoneRow != nil && phoneRow.LIDJID != nil && *phoneRow.LIDJID == lid {
			return nil // known already: nothing is stored under the LID
		}
		// A new link with no contact under the LID: memberships stored
		// under it (members carry no contact) still move.
		var contactID *int64
		if phoneRow != nil {
			contactID = &phoneRow.ID
		}
		return s.mergeIdentity(ctx, tx, wsID, phoneJID, lid, contactID, links)
	}
	if lidRow.PhoneJID != nil {
		// The LID moved to another number: the old holder lets go of it.
		_, err := tx.NewUpdate().Model((*contactRow)(nil)).Set("lid_jid = NULL").Where("id = ?", lidRow.ID).Exec(ctx)
		return err
	}
	if phoneRow == nil {
		if _, err := tx.NewUpdate().Model((*contactRow)(nil)).Set("phone_jid = ?", phoneJID).Where("id = ?", lidRow.ID).Exec(ctx); err != nil {
			return err
		}
		return s.mergeIdentity(ctx, tx, wsID, phoneJID, lid, &lidRow.ID, links)
	}
	for _, table := range []string{"chats", "group_participants"} {
		if _, err := tx.NewUpdate().Table(table).Set("contact_id = ?", phoneRow.ID).
			Where("contact_id = ?", lidRow.ID).Exec(ctx); err != nil {
			return err
		}
	}
	if _, err := tx.NewDelete().Model((*contactRow)(nil)).Where("id = ?", lidRow.ID).Exec(ctx); err != nil {
		return err
	}
	return s.mergeIdentity(ctx, tx, wsID, phoneJID, lid, &phoneRow.ID, links)
}

// chatRow is a chat's row as the input describes it (ContactID unset).
func (s *Store) chatRow(wsID, sessionID int64, c chatsync.ChatInput, now time.Time) chatRow {
	r := chatRow{
		WorkspaceID: wsID, SessionID: sessionID, JID: c.JID, Type: string(c.Type), Name: c.Name,
		UnreadCount: deref(c.UnreadCount), Archived: deref(c.Archived), Pinned: deref(c.Pinned),
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
		names = append(names, ci.PushName, ci.FullName, ci.Phone)
		if p := phone.FromJID(c.JID); p != "" {
			names = append(names, "+"+p)
		}
	} else if c.Group != nil && c.Group.Subject != "" && c.Name == "" {
		r.Name = c.Group.Subject
		names = append(names, c.Group.Subject)
	}
	r.SearchText = strings.ToLower(strings.Join(slices.DeleteFunc(names, func(s string) bool { return s == "" }), " "))
	return r
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// chatSet is the ON CONFLICT update of a chat (alias c) but for its state
// (unread count, archived, pinned, muted until, marked unread; see
// mergeState and chunkStatement):
// last activity and the preview move forward only; names are not
// time-stamped, so the latest non-empty one wins.
func (s *Store) chatSet() string {
	g := s.greatest()
	return `name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE c.name END,
		search_text = CASE WHEN EXCLUDED.search_text <> '' THEN EXCLUDED.search_text ELSE c.search_text END,
		contact_id = COALESCE(EXCLUDED.contact_id, c.contact_id),
		last_message_preview = CASE WHEN EXCLUDED.last_message_at > c.last_message_at
			OR (EXCLUDED.last_message_at = c.last_message_at AND c.last_message_preview = '` + waitingPreview + `')
			THEN EXCLUDED.last_message_preview ELSE c.last_message_preview END,
		last_message_at = ` + g + `(EXCLUDED.last_message_at, c.last_message_at),
		last_activity_at = ` + g + `(EXCLUDED.last_activity_at, c.last_activity_at),
		updated_at = EXCLUDED.updated_at`
}

// mergeState applies the chunk's chat state on the Bun path, after its
// chats and messages are written (the upsert leaves the state of a stored
// chat alone): a field the report carries replaces the stored one; with no
// unread count, each new message not from me (msgs holds only the
// messages this write inserted, so a replay adds nothing) raises it by one.
// A new chat was inserted with the report's state or zeros, so the same
// rule gives its first state.
func (s *Store) mergeState(ctx context.Context, tx bun.Tx, p chunkPlan, chatIDs map[string]int64, msgs []newMessage) error {
	fresh := make(map[int64]int32, len(p.chats))
	for _, m := range msgs {
		if !m.FromMe && !m.replaced {
			fresh[m.ChatID]++
		}
	}
	for i, c := range p.chats {
		st, id := p.state[i], chatIDs[c.JID]
		q := tx.NewUpdate().Model((*chatRow)(nil)).Where("id = ?", id)
		set := false
		switch {
		case st.unread != nil:
			q, set = q.Set("unread_count = ?", *st.unread), true
		case fresh[id] > 0:
			q, set = q.Set("unread_count = unread_count + ?", fresh[id]), true
		}
		if st.archived != nil {
			q, set = q.Set("archived = ?", *st.archived), true
		}
		if st.pinned != nil {
			q, set = q.Set("pinned = ?", *st.pinned), true
		}
		if st.mutedUntil != nil {
			q, set = q.Set("muted_until = ?", *st.mutedUntil), true
		}
		if st.markedUnread != nil {
			q, set = q.Set("marked_unread = ?", *st.markedUnread), true
		}
		if !set {
			continue
		}
		if _, err := q.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) upsertChats(ctx context.Context, tx bun.Tx, p chunkPlan, contactIDs map[string]int64) (map[string]int64, error) {
	if len(p.chats) == 0 {
		return map[string]int64{}, nil
	}
	rows := slices.Clone(p.chats)
	for i := range rows {
		// mergeState sets the state once the messages are in.
		rows[i].UnreadCount, rows[i].Archived, rows[i].Pinned, rows[i].MutedUntil, rows[i].MarkedUnread = 0, false, false, nil, false
		if rows[i].Type != string(chatsync.ChatPrivate) {
			continue
		}
		if id, ok := contactIDs[rows[i].JID]; ok {
			rows[i].ContactID = &id
		}
	}
	var got []chatRow
	err := tx.NewInsert().Model(&rows).On("CONFLICT (session_id, jid) DO UPDATE").Set(s.chatSet()).
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
		if best == nil || ms[i].Timestamp.After(best.Timestamp) ||
			ms[i].Timestamp.Equal(best.Timestamp) && best.Waiting && !ms[i].Waiting {
			best = &ms[i]
		}
	}
	return best
}

// waitingPreview is a placeholder's preview (MessageInput.Waiting).
const waitingPreview = "[waiting for this message]"

func preview(m *chatsync.MessageInput) string {
	if m.Waiting {
		return waitingPreview
	}
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

// groupSet is the ON CONFLICT update of a group (alias g).
const groupSet = `subject = CASE WHEN EXCLUDED.subject <> '' THEN EXCLUDED.subject ELSE g.subject END,
		description = CASE WHEN EXCLUDED.description <> '' THEN EXCLUDED.description ELSE g.description END,
		owner_jid = CASE WHEN EXCLUDED.owner_jid <> '' THEN EXCLUDED.owner_jid ELSE g.owner_jid END,
		updated_at = EXCLUDED.updated_at`

// participantCount recounts the members of chats (alias c).
const participantCount = "participant_count = (SELECT count(*) FROM group_participants AS gp WHERE gp.chat_id = c.id)"

func (s *Store) writeGroups(ctx context.Context, tx bun.Tx, p chunkPlan, chatIDs map[string]int64) error {
	if len(p.groups) == 0 {
		return nil
	}
	groups := make([]groupRow, len(p.groups))
	for i, g := range p.groups {
		groups[i] = g.row
		groups[i].ChatID = chatIDs[g.chatJID]
	}
	if _, err := tx.NewInsert().Model(&groups).On("CONFLICT (chat_id) DO UPDATE").Set(groupSet).Exec(ctx); err != nil {
		return err
	}
	if len(p.snapshot) > 0 {
		// A complete member list replaces the stored one.
		ids := make([]int64, len(p.snapshotChats))
		for i, jid := range p.snapshotChats {
			ids[i] = chatIDs[jid]
		}
		if _, err := tx.NewDelete().Model((*participantRow)(nil)).Where("chat_id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
			return err
		}
		rows := make([]participantRow, len(p.snapshot))
		for i, m := range p.snapshot {
			rows[i] = m.row
			rows[i].ChatID = chatIDs[m.chatJID]
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
	}
	for _, c := range p.changes {
		if err := applyChange(ctx, tx, chatIDs[c.chatJID], c.change, s.phones); err != nil {
			return err
		}
	}
	if len(p.touched) == 0 {
		return nil
	}
	ids := make([]int64, len(p.touched))
	for i, jid := range p.touched {
		ids[i] = chatIDs[jid]
	}
	_, err := tx.NewUpdate().Model((*chatRow)(nil)).Set(participantCount).Where("id IN (?)", bun.List(ids)).Exec(ctx)
	return err
}

// participantPhone is a group member's E.164 number. A member's phone JID
// carries it already (its user part is the number's digits, as WhatsApp
// registered it), so a raw number that is just those digits is taken as
// is; only a number given otherwise (spaces, dashes, another number) goes
// through the normaliser. Contacts keep the full check and its validity
// flag; for members the normaliser's regexps were half the worker's CPU on
// a first sync of large groups, whose members are mostly new numbers.
func (c *phoneCache) participantPhone(jid, raw string) string {
	digits := phone.FromJID(jid)
	if len(digits) >= 7 && len(digits) <= 15 && (raw == "" || raw == digits || raw == "+"+digits) {
		return "+" + digits
	}
	if raw == "" {
		raw = digits
	}
	e164, _ := c.normalize(raw)
	return e164
}

func applyChange(ctx context.Context, tx bun.Tx, chatID int64, ch chatsync.ParticipantChange, phones *phoneCache) error {
	switch ch.Action {
	case chatsync.ActionLeave:
		_, err := tx.NewDelete().Model((*participantRow)(nil)).Where("chat_id = ? AND jid = ?", chatID, ch.JID).Exec(ctx)
		return err
	case chatsync.ActionJoin:
		row := participantRow{ChatID: chatID, JID: ch.JID, Role: string(chatsync.RoleMember), PhoneE164: phones.participantPhone(ch.JID, ch.Phone)}
		_, err := tx.NewInsert().Model(&row).On("CONFLICT (chat_id, jid) DO NOTHING").Exec(ctx)
		return err
	case chatsync.ActionPromote, chatsync.ActionDemote:
		role := chatsync.RoleAdmin
		if ch.Action == chatsync.ActionDemote {
			role = chatsync.RoleMember
		}
		row := participantRow{ChatID: chatID, JID: ch.JID, Role: string(role), PhoneE164: phones.participantPhone(ch.JID, ch.Phone)}
		_, err := tx.NewInsert().Model(&row).On("CONFLICT (chat_id, jid) DO UPDATE").Set("role = EXCLUDED.role").Exec(ctx)
		return err
	}
	return fmt.Errorf("unknown participant action %q", ch.Action)
}

// newMessage is a message a write stored: inserted, or replaced is set
// when it filled in a placeholder stored before.
type newMessage struct {
	chatsync.Message
	replaced bool
}

// messageConflict is the ON CONFLICT of a message insert (alias m): a
// message is stored once, but a placeholder (waiting) takes the content of
// the real message when it comes, and so does a pending row (a change
// reported before its message, lifecycle.go), keeping what the change
// decided: a revoke removes the content, an edit keeps its text. Nothing
// replaces real content. A completed pending row counts as stored now
// (created_at), a replaced placeholder as stored when it first was.
const messageConflict = `CONFLICT (chat_id, wa_id) DO UPDATE SET sender_jid = EXCLUDED.sender_jid, from_me = EXCLUDED.from_me,
		sent_at = EXCLUDED.sent_at,
		text = CASE WHEN m.revoked THEN '' WHEN m.edit_time IS NOT NULL THEN m.text ELSE EXCLUDED.text END,
		media_type = CASE WHEN m.revoked THEN '' ELSE EXCLUDED.media_type END,
		waiting = EXCLUDED.waiting AND NOT m.revoked AND m.edit_time IS NULL,
		created_at = CASE WHEN m.pending THEN EXCLUDED.created_at ELSE m.created_at END,
		status = CASE WHEN EXCLUDED.status > m.status THEN EXCLUDED.status ELSE m.status END,
		pending = false
		WHERE (m.waiting AND NOT EXCLUDED.waiting) OR m.pending`

func (s *Store) insertMessages(ctx context.Context, tx bun.Tx, p chunkPlan, chatIDs map[string]int64) ([]newMessage, error) {
	if len(p.messages) == 0 {
		return nil, nil
	}
	rows := make([]messageRow, len(p.messages))
	for i, m := range p.messages {
		rows[i] = m.row
		rows[i].ChatID = chatIDs[m.chatJID]
	}
	// A redelivered message changes nothing and is not reported as new.
	var got []messageRow
	err := tx.NewInsert().Model(&rows).On(messageConflict).
		Returning("id, chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type, waiting, edit_time, revoked, reactions, status, created_at").Scan(ctx, &got)
	if err != nil {
		return nil, err
	}
	out := make([]newMessage, len(got))
	for i, r := range got {
		// A replaced placeholder keeps the time it was first stored.
		out[i] = newMessage{Message: r.domain(), replaced: r.CreatedAt.Sub(p.now).Abs() > time.Millisecond}
	}
	return out, nil
}

func (r *messageRow) domain() chatsync.Message {
	m := chatsync.Message{
		ID: r.ID, ChatID: r.ChatID, WAID: r.WAID, SenderJID: r.SenderJID, FromMe: r.FromMe,
		SentAt: r.SentAt.UTC(), Text: r.Text, MediaType: chatsync.MediaType(r.MediaType), Waiting: r.Waiting,
		Revoked: r.Revoked, Reactions: shownReactions(r.Reactions), Status: chatsync.MessageStatus(r.Status),
	}
	if r.EditTime != nil {
		m.EditTime = new(r.EditTime.UTC())
	}
	return m
}
