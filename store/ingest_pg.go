package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/chatsync/chatsync"
)

// The PostgreSQL write path. A chunk is a handful of set-based statements
// (one per table, rows passed as arrays and unnested, so the SQL text is
// constant and pgx prepares each statement once per connection), sent as
// one pipeline between BEGIN and COMMIT: one round trip for the whole
// chunk, where the Bun path spends about ten. Statements find the rows of
// earlier ones by WhatsApp identity (session and JID), not by IDs read back
// in between; that is what lets them share the round trip.
//
// Settings of the transactions of this file, made in one statement at
// their start (set_config with is_local: they end with the transaction).
//
// synchronous_commit off: chunks commit asynchronously. That is safe: the
// batch row is committed durably before processing; a crash that loses the
// commit of a chunk, or of the batch's completion, leaves the batch
// pending, and the sweeper has it processed again (the writes are
// idempotent).
//
// enable_seqscan off: every statement here touches a handful of rows by
// key, so a sequential scan is never the right plan. pgx prepares each
// statement once per connection and PostgreSQL then caches a generic plan;
// planned while a table is still small (a fresh install, a first sync),
// that plan scanned the whole table, and kept doing so as the table grew
// until the next ANALYZE: a first sync turned quadratic. For the same
// reason lookups are scalar subqueries on all columns of a unique index
// rather than joins, which the planner could turn into a hash join over a
// scan.
//
// plan_cache_mode force_generic_plan: left to itself, PostgreSQL compares
// the cached generic plan with custom plans, which know how many rows the
// unnested arrays hold (a chunk's ten) where the generic plan guesses a
// hundred; the generic plan looks dearer, so every execution was planned
// anew, a third of the database's time on a chunk.
const (
	writeSettings = `SELECT set_config('synchronous_commit', 'off', true), set_config('enable_seqscan', 'off', true),
		set_config('plan_cache_mode', 'force_generic_plan', true)`
	// readSettings also keep joins to nested loops over index lookups.
	readSettings = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
		set_config('enable_mergejoin', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`
)

// The ID of the session's ($1) chat of a JID.
const (
	chatOfVJID     = "(SELECT c.id FROM chats AS c WHERE c.session_id = $1 AND c.jid = v.jid)"
	chatOfVChatJID = "(SELECT c.id FROM chats AS c WHERE c.session_id = $1 AND c.jid = v.chat_jid)"
	chatOfParam    = "(SELECT c.id FROM chats AS c WHERE c.session_id = $1 AND c.jid = $2)"
)

const (
	sqlPhoneContacts = `INSERT INTO contacts AS ct (workspace_id, phone_jid, phone_e164, phone_raw, phone_valid, push_name, full_name, updated_at)
		SELECT $1, v.jid, v.e164, v.raw, v.valid, v.push, v.fname, $2
		FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[]) AS v(jid, e164, raw, valid, push, fname)
		ON CONFLICT (workspace_id, phone_jid) DO UPDATE SET ` + contactSet

	sqlLIDContacts = `INSERT INTO contacts AS ct (workspace_id, lid_jid, phone_e164, phone_raw, phone_valid, push_name, full_name, updated_at)
		SELECT $1, v.jid, v.e164, v.raw, v.valid, v.push, v.fname, $2
		FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[]) AS v(jid, e164, raw, valid, push, fname)
		ON CONFLICT (workspace_id, lid_jid) DO UPDATE SET ` + contactSet

	// A private chat points at the contact of its JID, which the contact
	// statements above have just written.
	sqlChats = `INSERT INTO chats AS c (workspace_id, session_id, jid, type, name, contact_id, unread_count, archived, pinned,
			last_activity_at, last_message_at, last_message_preview, search_text, created_at, updated_at)
		SELECT $1, $2, v.jid, v.type, v.name,
			CASE WHEN v.type = 'private' THEN COALESCE(
				(SELECT ct.id FROM contacts AS ct WHERE ct.workspace_id = $1 AND ct.phone_jid = v.jid),
				(SELECT ct.id FROM contacts AS ct WHERE ct.workspace_id = $1 AND ct.lid_jid = v.jid)) END,
			v.unread, v.archived, v.pinned, v.la, v.lm, v.preview, v.search, $3, $3
		FROM unnest($4::text[], $5::text[], $6::text[], $7::int4[], $8::bool[], $9::bool[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[])
			AS v(jid, type, name, unread, archived, pinned, la, lm, preview, search)
		ON CONFLICT (session_id, jid) DO UPDATE SET `

	// sqlCountedChats is sqlChats for groups whose complete member list
	// the chunk carries: their participant count is that list's size, set
	// here rather than recounted by an UPDATE that would write every chat
	// row (and its indexes) a second time.
	sqlCountedChats = `INSERT INTO chats AS c (workspace_id, session_id, jid, type, name, contact_id, unread_count, archived, pinned,
			last_activity_at, last_message_at, last_message_preview, search_text, created_at, updated_at, participant_count)
		SELECT $1, $2, v.jid, v.type, v.name, NULL,
			v.unread, v.archived, v.pinned, v.la, v.lm, v.preview, v.search, $3, $3, v.members
		FROM unnest($4::text[], $5::text[], $6::text[], $7::int4[], $8::bool[], $9::bool[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[], $14::int4[])
			AS v(jid, type, name, unread, archived, pinned, la, lm, preview, search, members)
		ON CONFLICT (session_id, jid) DO UPDATE SET participant_count = EXCLUDED.participant_count, `

	sqlGroups = `INSERT INTO groups AS g (chat_id, subject, description, owner_jid, updated_at)
		SELECT ` + chatOfVJID + `, v.subject, v.description, v.owner, $2
		FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS v(jid, subject, description, owner)
		ON CONFLICT (chat_id) DO UPDATE SET ` + groupSet

	// A complete member list replaces the stored one. This and the
	// recount below run once per group, with plain equality: in a generic
	// plan, "jid = ANY($2)" turned into a scan of the session's chats
	// filtered by the array, even with enable_seqscan off.
	sqlClearMembers = `DELETE FROM group_participants WHERE chat_id = ` + chatOfParam

	sqlMembers = `INSERT INTO group_participants (chat_id, jid, phone_e164, role)
		SELECT ` + chatOfVChatJID + `, v.jid, v.phone, v.role
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS v(chat_jid, jid, phone, role)`

	sqlMemberLeave = `DELETE FROM group_participants WHERE chat_id = ` + chatOfParam + ` AND jid = $3`

	sqlMemberJoin = `INSERT INTO group_participants (chat_id, jid, phone_e164, role)
		VALUES (` + chatOfParam + `, $3, $4, 'member')
		ON CONFLICT (chat_id, jid) DO NOTHING`

	sqlMemberRole = `INSERT INTO group_participants (chat_id, jid, phone_e164, role)
		VALUES (` + chatOfParam + `, $3, $4, $5)
		ON CONFLICT (chat_id, jid) DO UPDATE SET role = EXCLUDED.role`

	sqlRecount = `UPDATE chats AS c SET ` + participantCount + ` WHERE c.session_id = $1 AND c.jid = $2`

	// Messages are immutable: a redelivered message changes nothing and is
	// not reported as new.
	sqlMessages = `INSERT INTO messages (chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type, created_at)
		SELECT ` + chatOfVChatJID + `, v.wa_id, v.sender, v.from_me, v.sent_at, v.text, v.media, $2
		FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::timestamptz[], $8::text[], $9::text[])
			WITH ORDINALITY AS v(chat_jid, wa_id, sender, from_me, sent_at, text, media, ord)
		ORDER BY v.ord
		ON CONFLICT (chat_id, wa_id) DO NOTHING
		RETURNING id, chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type`
)

// pipeline is a pgx batch whose statements have names, so an error says
// which step the database refused.
type pipeline struct {
	b     pgx.Batch
	steps []string
	done  int
}

func (p *pipeline) exec(step, sql string, args ...any) {
	p.steps = append(p.steps, step)
	p.b.Queue(sql, args...).Exec(func(pgconn.CommandTag) error { p.done++; return nil })
}

func (p *pipeline) query(step, sql string, scan func(pgx.Rows) error, args ...any) {
	p.steps = append(p.steps, step)
	p.b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		if err := scan(rows); err != nil {
			return err
		}
		p.done++
		return nil
	})
}

// run sends the pipeline as one transaction and rolls back on failure.
func (p *pipeline) run(ctx context.Context, conn *pgx.Conn) error {
	err := conn.SendBatch(ctx, &p.b).Close()
	if err == nil {
		return nil
	}
	step := "commit"
	if p.done < len(p.steps) {
		step = p.steps[p.done]
	}
	err = fmt.Errorf("%s: %w", step, err)
	if !conn.IsClosed() && conn.PgConn().TxStatus() != 'I' {
		if _, rerr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
	}
	return err
}

// withPgx runs fn on a pgx connection of the store's pool.
func (s *Store) withPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: driver connection %T is not pgx", dc)
		}
		err := fn(c.Conn())
		if c.Conn().IsClosed() {
			// The pool must not hand this connection out again.
			return errors.Join(err, driver.ErrBadConn)
		}
		return err
	})
}

// writePipelined writes a planned chunk in one round trip and returns the
// IDs of its chats (in plan order) and its new messages.
func (s *Store) writePipelined(ctx context.Context, p chunkPlan) ([]int64, []chatsync.Message, error) {
	var pl pipeline
	pl.exec("begin", "BEGIN")
	pl.exec("begin", writeSettings)
	s.queueContacts(&pl, p)

	byJID := make(map[string]int64, len(p.chats))
	scanIDs := func(rows pgx.Rows) error {
		var id int64
		var jid string
		_, err := pgx.ForEachRow(rows, []any{&id, &jid}, func() error { byJID[jid] = id; return nil })
		return err
	}
	var plain, counted chatColumns
	for i := range p.chats {
		if n, ok := p.counts[p.chats[i].JID]; ok {
			counted.add(&p.chats[i])
			counted.members = append(counted.members, n)
		} else {
			plain.add(&p.chats[i])
		}
	}
	if c := plain; len(c.jid) > 0 {
		pl.query("chats", sqlChats+s.chatSet()+" RETURNING id, jid", scanIDs,
			p.wsID, p.sessionID, p.now, c.jid, c.typ, c.name, c.unread, c.archived, c.pinned, c.la, c.lm, c.preview, c.search)
	}
	if c := counted; len(c.jid) > 0 {
		pl.query("chats", sqlCountedChats+s.chatSet()+" RETURNING id, jid", scanIDs,
			p.wsID, p.sessionID, p.now, c.jid, c.typ, c.name, c.unread, c.archived, c.pinned, c.la, c.lm, c.preview, c.search, c.members)
	}
	queueGroups(&pl, p)

	var msgs []chatsync.Message
	if len(p.messages) > 0 {
		var m messageColumns
		for i := range p.messages {
			m.add(&p.messages[i])
		}
		pl.query("messages", sqlMessages, func(rows pgx.Rows) error {
			var r messageRow
			_, err := pgx.ForEachRow(rows, []any{&r.ID, &r.ChatID, &r.WAID, &r.SenderJID, &r.FromMe, &r.SentAt, &r.Text, &r.MediaType}, func() error {
				msgs = append(msgs, r.domain())
				return nil
			})
			return err
		}, p.sessionID, p.now, m.chatJID, m.waID, m.sender, m.fromMe, m.sentAt, m.text, m.media)
	}
	pl.exec("commit", "COMMIT")

	if err := s.withPgx(ctx, func(c *pgx.Conn) error { return pl.run(ctx, c) }); err != nil {
		return nil, nil, err
	}
	ids := make([]int64, 0, len(p.chats))
	for _, c := range p.chats {
		ids = append(ids, byJID[c.JID])
	}
	return ids, msgs, nil
}

func (s *Store) queueContacts(pl *pipeline, p chunkPlan) {
	var phones, lids contactColumns
	for _, r := range p.contacts {
		// Without link, no row carries both JIDs (WriteChunk sends those
		// through the Bun path).
		if r.PhoneJID != nil {
			phones.add(*r.PhoneJID, r)
		} else {
			lids.add(*r.LIDJID, r)
		}
	}
	for _, part := range []struct {
		sql  string
		cols contactColumns
	}{{sqlPhoneContacts, phones}, {sqlLIDContacts, lids}} {
		if c := part.cols; len(c.jid) > 0 {
			pl.exec("contacts", part.sql, p.wsID, p.now, c.jid, c.e164, c.raw, c.valid, c.push, c.full)
		}
	}
}

func queueGroups(pl *pipeline, p chunkPlan) {
	if len(p.groups) == 0 {
		return
	}
	var jid, subject, description, owner []string
	for _, g := range p.groups {
		jid = append(jid, g.chatJID)
		subject = append(subject, g.row.Subject)
		description = append(description, g.row.Description)
		owner = append(owner, g.row.OwnerJID)
	}
	pl.exec("groups", sqlGroups, p.sessionID, p.now, jid, subject, description, owner)
	if len(p.snapshot) > 0 {
		for _, jid := range p.snapshotChats {
			pl.exec("participants", sqlClearMembers, p.sessionID, jid)
		}
		var chat, member, phone, role []string
		for _, m := range p.snapshot {
			chat = append(chat, m.chatJID)
			member = append(member, m.row.JID)
			phone = append(phone, m.row.PhoneE164)
			role = append(role, m.row.Role)
		}
		pl.exec("participants", sqlMembers, p.sessionID, chat, member, phone, role)
	}
	for _, c := range p.changes {
		ch := c.change
		ph := p.phones.participantPhone(ch.JID, ch.Phone)
		switch ch.Action {
		case chatsync.ActionLeave:
			pl.exec("participant changes", sqlMemberLeave, p.sessionID, c.chatJID, ch.JID)
		case chatsync.ActionJoin:
			pl.exec("participant changes", sqlMemberJoin, p.sessionID, c.chatJID, ch.JID, ph)
		case chatsync.ActionPromote:
			pl.exec("participant changes", sqlMemberRole, p.sessionID, c.chatJID, ch.JID, ph, string(chatsync.RoleAdmin))
		case chatsync.ActionDemote:
			pl.exec("participant changes", sqlMemberRole, p.sessionID, c.chatJID, ch.JID, ph, string(chatsync.RoleMember))
		}
	}
	for _, jid := range p.changed {
		pl.exec("participant count", sqlRecount, p.sessionID, jid)
	}
}

// Column arrays of the unnest statements.

type contactColumns struct {
	jid, e164, raw, push, full []string
	valid                      []bool
}

func (c *contactColumns) add(jid string, r *contactRow) {
	c.jid = append(c.jid, jid)
	c.e164 = append(c.e164, r.PhoneE164)
	c.raw = append(c.raw, r.PhoneRaw)
	c.valid = append(c.valid, r.PhoneValid)
	c.push = append(c.push, r.PushName)
	c.full = append(c.full, r.FullName)
}

type chatColumns struct {
	jid, typ, name, preview, search []string
	unread, members                 []int32
	archived, pinned                []bool
	la, lm                          []time.Time
}

func (c *chatColumns) add(r *chatRow) {
	c.jid = append(c.jid, r.JID)
	c.typ = append(c.typ, r.Type)
	c.name = append(c.name, r.Name)
	c.unread = append(c.unread, r.UnreadCount)
	c.archived = append(c.archived, r.Archived)
	c.pinned = append(c.pinned, r.Pinned)
	c.la = append(c.la, r.LastActivityAt)
	c.lm = append(c.lm, r.LastMessageAt)
	c.preview = append(c.preview, r.LastMessagePreview)
	c.search = append(c.search, r.SearchText)
}

type messageColumns struct {
	chatJID, waID, sender, text, media []string
	fromMe                             []bool
	sentAt                             []time.Time
}

func (c *messageColumns) add(m *messagePlan) {
	c.chatJID = append(c.chatJID, m.chatJID)
	c.waID = append(c.waID, m.row.WAID)
	c.sender = append(c.sender, m.row.SenderJID)
	c.fromMe = append(c.fromMe, m.row.FromMe)
	c.sentAt = append(c.sentAt, m.row.SentAt)
	c.text = append(c.text, m.row.Text)
	c.media = append(c.media, m.row.MediaType)
}

// sqlChatViews is chatViewQuery (chat.go) by primary keys, as a prepared
// statement: planned once per connection instead of once per call (a
// four-table join; planning it was most of its cost). scanChatView reads
// its columns in chatViewColumns' order; TestChatViewsMatchListChats
// checks the two stay in step.
const sqlChatViews = `SELECT ` + chatViewColumns + `
	FROM chats AS c
	JOIN sessions AS s ON s.id = c.session_id
	LEFT JOIN contacts AS ct ON ct.id = c.contact_id
	LEFT JOIN groups AS g ON g.chat_id = c.id
	WHERE c.id = ANY($1::bigint[])
	ORDER BY c.last_activity_at DESC, c.id DESC`

func (s *Store) chatViewsPG(ctx context.Context, workspaceID int64, ids []int64) ([]chatsync.ChatView, error) {
	var out []chatsync.ChatView
	var pl pipeline
	pl.exec("begin", "BEGIN READ ONLY")
	pl.exec("begin", readSettings)
	pl.query("chat views", sqlChatViews, func(rows pgx.Rows) error {
		var r chatViewRow
		_, err := pgx.ForEachRow(rows, []any{&r.ID, &r.WorkspaceID, &r.SessionID, &r.SessionName, &r.Provider, &r.JID, &r.Type, &r.Name,
			&r.Phone, &r.PushName, &r.FullName, &r.Description, &r.ParticipantCount, &r.UnreadCount, &r.LastActivityAt,
			&r.LastMessagePreview, &r.Archived, &r.Pinned}, func() error {
			if r.WorkspaceID == workspaceID {
				out = append(out, r.domain())
			}
			return nil
		})
		return err
	}, ids)
	pl.exec("commit", "COMMIT")
	if err := s.withPgx(ctx, func(c *pgx.Conn) error { return pl.run(ctx, c) }); err != nil {
		return nil, err
	}
	return out, nil
}
