package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/chatsync/chatsync"
)

// The PostgreSQL write path. A chunk is a handful of set-based statements
// (one per table, rows passed as arrays and unnested, so the SQL text is
// constant and pgx prepares each statement once per connection), sent as
// one pipeline that is one transaction (see beginWrite): one round trip
// for the whole chunk, where the Bun path spends about ten. Statements find the rows of
// earlier ones by WhatsApp identity (session and JID), not by IDs read back
// in between; that is what lets them share the round trip.
//
// Settings of the writes of this file (chunks, a batch's completion):
// session settings of the store's write pool (writepool.go), whose
// connections serve those writes alone; on a store without one, made in
// one statement at the start of each transaction (set_config with
// is_local: they end with the transaction).
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

// The ID of the session's ($1) chat of a JID ($2).
const chatOfParam = "(SELECT c.id FROM chats AS c WHERE c.session_id = $1 AND c.jid = $2)"

const (
	sqlPhoneContacts = `INSERT INTO contacts AS ct (workspace_id, phone_jid, phone_e164, phone_raw, phone_valid, push_name, full_name, updated_at)
		SELECT $1, v.jid, v.e164, v.raw, v.valid, v.push, v.fname, $2
		FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[]) AS v(jid, e164, raw, valid, push, fname)
		ON CONFLICT (workspace_id, phone_jid) DO UPDATE SET ` + contactSet

	sqlLIDContacts = `INSERT INTO contacts AS ct (workspace_id, lid_jid, phone_e164, phone_raw, phone_valid, push_name, full_name, updated_at)
		SELECT $1, v.jid, v.e164, v.raw, v.valid, v.push, v.fname, $2
		FROM unnest($3::text[], $4::text[], $5::text[], $6::bool[], $7::text[], $8::text[]) AS v(jid, e164, raw, valid, push, fname)
		ON CONFLICT (workspace_id, lid_jid) DO UPDATE SET ` + contactSet

	// Membership changes, one statement each (rare), with plain
	// equality: in a generic plan, "jid = ANY($2)" turned into a scan of
	// the session's chats filtered by the array, even with enable_seqscan
	// off.
	sqlMemberLeave = `DELETE FROM group_participants WHERE chat_id = ` + chatOfParam + ` AND jid = $3`

	sqlMemberJoin = `INSERT INTO group_participants (chat_id, jid, phone_e164, role)
		VALUES (` + chatOfParam + `, $3, $4, 'member')
		ON CONFLICT (chat_id, jid) DO NOTHING`

	sqlMemberRole = `INSERT INTO group_participants (chat_id, jid, phone_e164, role)
		VALUES (` + chatOfParam + `, $3, $4, $5)
		ON CONFLICT (chat_id, jid) DO UPDATE SET role = EXCLUDED.role`

	sqlRecount = `UPDATE chats AS c SET ` + participantCount + ` WHERE c.session_id = $1 AND c.jid = $2`
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

// withPgx runs fn on a pgx connection of the store's main pool.
func (s *Store) withPgx(ctx context.Context, fn func(*pgx.Conn) error) error {
	return withPgxOf(ctx, s.db.DB, fn)
}

// withPgxOf runs fn on a pgx connection of db.
func withPgxOf(ctx context.Context, db *sql.DB, fn func(*pgx.Conn) error) error {
	conn, err := db.Conn(ctx)
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

// beginWrite starts the pipeline of an asynchronous write (a chunk, a
// batch's completion). On the write pool (writepool.go) its connection
// carries writeSettings already, and the pipeline needs neither BEGIN nor
// COMMIT: pgx sends a batch with one Sync at its end, and PostgreSQL runs
// the statements before a Sync as one implicit transaction, committed at
// the Sync, or rolled back whole if one fails. Without the write pool the
// pipeline is a transaction that sets writeSettings first.
func (s *Store) beginWrite(pl *pipeline) {
	if s.writes == nil {
		pl.exec("begin", "BEGIN")
		pl.exec("begin", writeSettings)
	}
}

// runWrite ends a pipeline started by beginWrite and runs it.
func (s *Store) runWrite(ctx context.Context, pl *pipeline) error {
	if s.writes == nil {
		pl.exec("commit", "COMMIT")
		return s.withPgx(ctx, func(c *pgx.Conn) error { return pl.run(ctx, c) })
	}
	return withPgxOf(ctx, s.writes, func(c *pgx.Conn) error { return pl.run(ctx, c) })
}

// writePipelined writes a planned chunk in one round trip and returns the
// IDs of its chats (in plan order) and its new messages.
func (s *Store) writePipelined(ctx context.Context, p chunkPlan) ([]int64, []chatsync.Message, error) {
	var pl pipeline
	s.beginWrite(&pl)

	byJID := make(map[string]int64, len(p.chats))
	var msgs []chatsync.Message
	if len(p.chats) == 0 {
		s.queueContacts(&pl, p) // contacts alone: the batch's top-level ones
	} else {
		st := s.chunkStatement(p)
		if !st.contacts {
			s.queueContacts(&pl, p)
		}
		pl.query("chunk", st.sql(), func(rows pgx.Rows) error {
			var isChat bool
			var jid string
			var r messageRow
			_, err := pgx.ForEachRow(rows, []any{&isChat, &r.ID, &jid, &r.ChatID, &r.WAID, &r.SenderJID, &r.FromMe, &r.SentAt, &r.Text, &r.MediaType, &r.Waiting,
				&r.EditTime, &r.Revoked, &r.Reactions, &r.Status}, func() error {
				if isChat {
					byJID[jid] = r.ID
				} else {
					msgs = append(msgs, r.domain())
				}
				return nil
			})
			return err
		}, st.args...)
		queueChanges(&pl, p)
	}
	if err := s.runWrite(ctx, &pl); err != nil {
		return nil, nil, err
	}
	ids := make([]int64, 0, len(p.chats))
	for _, c := range p.chats {
		ids = append(ids, byJID[c.JID])
	}
	return ids, msgs, nil
}

// chunkSQL is the statement that writes a chunk's contacts, chats, groups,
// members and messages: one data-modifying CTE per table. One statement
// instead of one per table (and one per group to clear its members) was
// the biggest saving at 10 chats per chunk: PostgreSQL's fixed cost of
// executing a statement (binding, locking its relations and indexes,
// starting and ending its executor) was about half of a chunk's time.
// It also lets later CTEs take chat IDs from the chats' RETURNING instead
// of looking each member's and message's chat up in the chats index.
//
// All CTEs see the snapshot taken at the statement's start, not each
// other's rows, so:
//   - chats find their contacts in the contacts CTE's RETURNING first (the
//     table lookups behind it find contacts written by earlier statements);
//   - no row may be written twice: the chat upsert's JIDs are distinct
//     (mergeChats), and a complete member list is upserted while
//     the members it no longer names are deleted, two disjoint sets of
//     rows (a DELETE and an INSERT of the same member in one statement
//     would depend on the order PostgreSQL runs them in);
//   - LID-only contacts are written by their own statements before it
//     (queueContacts): a LID contact and a phone contact of the chunk can
//     be one stored person, and one statement may not upsert a row twice.
//
// Lookups stay scalar subqueries (on a CTE here), never joins: see the
// plan notes at the top of this file.
type chunkSQL struct {
	ctes     []string
	selects  []string
	args     []any
	contacts bool // the phone contacts are part of the statement
}

// arg adds a parameter and returns its placeholder.
func (q *chunkSQL) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// unnest adds array parameters and returns "unnest($n::type[], …)";
// arrays alternate with their element types.
func (q *chunkSQL) unnest(arrays ...any) string {
	ph := make([]string, 0, len(arrays)/2)
	for i := 0; i < len(arrays); i += 2 {
		ph = append(ph, q.arg(arrays[i])+"::"+arrays[i+1].(string)+"[]")
	}
	return "unnest(" + strings.Join(ph, ", ") + ")"
}

func (q *chunkSQL) sql() string {
	return "WITH " + strings.Join(q.ctes, ",\n") + "\n" + strings.Join(q.selects, "\nUNION ALL\n")
}

// chatOfCTE is the ID of the chat of a JID column, from the chats the
// statement wrote (CTE ch).
func chatOfCTE(col string) string { return "(SELECT ch.id FROM ch WHERE ch.jid = " + col + ")" }

// chunkStatement builds the chunk's statement (p has chats). Its rows are
// the written chats (true, id, jid) and then the new messages (false, …).
func (s *Store) chunkStatement(p chunkPlan) chunkSQL {
	var q chunkSQL
	ws, sess, now := q.arg(p.wsID), q.arg(p.sessionID), q.arg(p.now)

	var phones contactColumns
	lids := false
	for _, r := range p.contacts {
		if r.PhoneJID == nil {
			lids = true
			break
		}
		phones.add(*r.PhoneJID, r)
	}
	// A private chat points at the contact of its JID.
	contactOf := "COALESCE("
	if !lids && len(phones.jid) > 0 {
		q.contacts = true
		q.ctes = append(q.ctes, `ctp AS (INSERT INTO contacts AS ct (workspace_id, phone_jid, phone_e164, phone_raw, phone_valid, push_name, full_name, updated_at)
		SELECT `+ws+`, v.jid, v.e164, v.raw, v.valid, v.push, v.fname, `+now+`
		FROM `+q.unnest(phones.jid, "text", phones.e164, "text", phones.raw, "text", phones.valid, "bool", phones.push, "text", phones.full, "text")+`
			AS v(jid, e164, raw, valid, push, fname)
		ON CONFLICT (workspace_id, phone_jid) DO UPDATE SET `+contactSet+`
		RETURNING ct.id, ct.phone_jid)`)
		contactOf += "(SELECT ctp.id FROM ctp WHERE ctp.phone_jid = v.jid),\n\t\t\t"
	}
	contactOf += "(SELECT ct.id FROM contacts AS ct WHERE ct.workspace_id = " + ws + " AND ct.phone_jid = v.jid),\n\t\t\t" +
		"(SELECT ct.id FROM contacts AS ct WHERE ct.workspace_id = " + ws + " AND ct.lid_jid = v.jid))"

	// Chats, in one upsert: groups whose complete member list the chunk
	// carries set their participant count to that list's size (no
	// recount, which would write the chat row and its indexes a second
	// time); the others keep theirs. Such a list has at least one member,
	// so a count of 0 stands for "none given" (and is the column's default
	// for a new chat).
	var c chatColumns
	for i := range p.chats {
		c.add(&p.chats[i], p.state[i])
		c.members = append(c.members, p.counts[p.chats[i].JID])
	}
	// The chunk's messages, before the chats: a chat's unread count
	// depends on which of them are new.
	var m messageColumns
	for i := range p.messages {
		m.add(&p.messages[i])
	}
	if len(p.messages) > 0 {
		q.ctes = append(q.ctes, `mv AS (SELECT * FROM `+q.unnest(m.chatJID, "text", m.waID, "text", m.sender, "text", m.fromMe, "bool",
			m.sentAt, "timestamptz", m.text, "text", m.media, "text", m.waiting, "bool", m.status, "int2")+`
			WITH ORDINALITY AS v(chat_jid, wa_id, sender, from_me, sent_at, text, media, waiting, status, ord))`)
	}
	q.ctes = append(q.ctes, `cv AS (SELECT * FROM `+q.unnest(c.jid, "text", c.typ, "text", c.name, "text", c.unread, "int4", c.archived, "bool", c.pinned, "bool",
		c.la, "timestamptz", c.lm, "timestamptz", c.preview, "text", c.search, "text", c.members, "int4", c.fromThem, "int4",
		c.muted, "timestamptz", c.marked, "bool")+`
			AS v(jid, type, name, unread, archived, pinned, la, lm, preview, search, members, from_them, muted, marked))`)
	const chatCols = `workspace_id, session_id, jid, type, name, contact_id, unread_count, archived, pinned, muted_until, marked_unread,
			last_activity_at, last_message_at, last_message_preview, search_text, created_at, updated_at, participant_count`
	q.ctes = append(q.ctes, `ch AS (INSERT INTO chats AS c (`+chatCols+`)
		SELECT `+ws+`, `+sess+`, v.jid, v.type, v.name, CASE WHEN v.type = 'private' THEN `+contactOf+` END,
			COALESCE(v.unread, v.from_them), COALESCE(v.archived, false), COALESCE(v.pinned, false), v.muted, COALESCE(v.marked, false),
			v.la, v.lm, v.preview, v.search, `+now+`, `+now+`, v.members
		FROM cv AS v
		ON CONFLICT (session_id, jid) DO UPDATE SET
		participant_count = CASE WHEN EXCLUDED.participant_count > 0 THEN EXCLUDED.participant_count ELSE c.participant_count END,
		`+stateSet(len(p.messages) > 0)+`,
		`+s.chatSet()+`
		RETURNING c.id, c.jid)`)
	q.selects = append(q.selects, `SELECT true, id, jid, 0::bigint, ''::text, ''::text, false, 'epoch'::timestamptz, ''::text, ''::text, false,
		NULL::timestamptz, false, ''::text, 0::smallint FROM ch`)

	if len(p.groups) > 0 {
		var jid, subject, description, owner []string
		for _, g := range p.groups {
			jid = append(jid, g.chatJID)
			subject = append(subject, g.row.Subject)
			description = append(description, g.row.Description)
			owner = append(owner, g.row.OwnerJID)
		}
		q.ctes = append(q.ctes, `gr AS (INSERT INTO groups AS g (chat_id, subject, description, owner_jid, updated_at)
		SELECT `+chatOfCTE("v.jid")+`, v.subject, v.description, v.owner, `+now+`
		FROM `+q.unnest(jid, "text", subject, "text", description, "text", owner, "text")+` AS v(jid, subject, description, owner)
		ON CONFLICT (chat_id) DO UPDATE SET `+groupSet+`)`)
	}
	if len(p.snapshot) > 0 {
		// A complete member list replaces the stored one: its members are
		// upserted (a member whose phone and role are unchanged is not
		// rewritten), and the stored members it does not name are deleted.
		var chat, member, phone, role []string
		for _, m := range p.snapshot {
			chat = append(chat, m.chatJID)
			member = append(member, m.row.JID)
			phone = append(phone, m.row.PhoneE164)
			role = append(role, m.row.Role)
		}
		chats, members := q.arg(chat), q.arg(member)
		q.ctes = append(q.ctes, `gpu AS (INSERT INTO group_participants AS gp (chat_id, jid, phone_e164, role)
		SELECT `+chatOfCTE("v.chat_jid")+`, v.jid, v.phone, v.role
		FROM unnest(`+chats+`::text[], `+members+`::text[], `+q.arg(phone)+`::text[], `+q.arg(role)+`::text[]) AS v(chat_jid, jid, phone, role)
		ON CONFLICT (chat_id, jid) DO UPDATE SET phone_e164 = EXCLUDED.phone_e164, role = EXCLUDED.role
		WHERE (gp.phone_e164, gp.role) IS DISTINCT FROM (EXCLUDED.phone_e164, EXCLUDED.role))`,
			`gpd AS (DELETE FROM group_participants AS gp
		WHERE gp.chat_id = ANY (ARRAY(SELECT `+chatOfCTE("j")+` FROM unnest(`+q.arg(p.snapshotChats)+`::text[]) AS j))
			AND NOT EXISTS (SELECT 1 FROM unnest(`+chats+`::text[], `+members+`::text[]) AS m(chat_jid, jid)
				WHERE m.jid = gp.jid AND `+chatOfCTE("m.chat_jid")+` = gp.chat_id))`)
	}
	if len(p.messages) > 0 {
		// A redelivered message changes nothing and is not reported as new;
		// a placeholder takes the real message's content (messageConflict).
		q.ctes = append(q.ctes, `msg AS (INSERT INTO messages AS m (chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type, waiting, status, created_at)
		SELECT `+chatOfCTE("v.chat_jid")+`, v.wa_id, v.sender, v.from_me, v.sent_at, v.text, v.media, v.waiting, v.status, `+now+`
		FROM mv AS v
		ORDER BY v.ord
		ON `+messageConflict+`
		RETURNING id, chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type, waiting, edit_time, revoked, reactions, status)`)
		q.selects = append(q.selects, `SELECT false, id, '', chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type, waiting,
		edit_time, revoked, reactions, status FROM msg`)
	}
	return q
}

// stateSet is the ON CONFLICT update of a stored chat's state (alias c):
// a field the report carries (not NULL in cv) replaces the stored one;
// with no unread count, each of the chunk's messages (CTE mv, when it has
// any) that is not from me and not stored yet raises it by one, so a
// replay adds nothing. The messages CTE inserts in the same statement but
// cannot be seen here: the snapshot is the statement's start, which is
// exactly "stored before this write".
func stateSet(messages bool) string {
	of := func(col string) string { return "(SELECT v." + col + " FROM cv AS v WHERE v.jid = EXCLUDED.jid)" }
	fresh := "0"
	if messages {
		fresh = `(SELECT count(*) FROM mv AS m WHERE m.chat_jid = EXCLUDED.jid AND NOT m.from_me
			AND NOT EXISTS (SELECT 1 FROM messages AS x WHERE x.chat_id = c.id AND x.wa_id = m.wa_id AND NOT x.pending))::int4`
	}
	return `unread_count = CASE WHEN ` + of("unread") + ` IS NOT NULL THEN EXCLUDED.unread_count
			WHEN EXCLUDED.unread_count = 0 THEN c.unread_count
			ELSE c.unread_count + ` + fresh + ` END,
		archived = COALESCE(` + of("archived") + `, c.archived),
		pinned = COALESCE(` + of("pinned") + `, c.pinned),
		muted_until = COALESCE(` + of("muted") + `, c.muted_until),
		marked_unread = COALESCE(` + of("marked") + `, c.marked_unread)`
}

// queueContacts queues the contact statements of a chunk whose contacts
// its chunk statement does not write (see chunkSQL).
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

// queueChanges queues a chunk's membership changes and the recounts they
// need, after the chunk's statement (they find their groups in the table,
// which now holds the chunk's chats). They are rare: one statement each.
func queueChanges(pl *pipeline, p chunkPlan) {
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

// chatColumns: the state (unread, archived, pinned, muted, marked) is
// NULL where the report does not carry it.
type chatColumns struct {
	jid, typ, name, preview, search []string
	members, fromThem               []int32
	unread                          []*int32
	archived, pinned, marked        []*bool
	muted                           []*time.Time
	la, lm                          []time.Time
}

func (c *chatColumns) add(r *chatRow, st chatState) {
	c.jid = append(c.jid, r.JID)
	c.typ = append(c.typ, r.Type)
	c.name = append(c.name, r.Name)
	c.unread = append(c.unread, st.unread)
	c.archived = append(c.archived, st.archived)
	c.pinned = append(c.pinned, st.pinned)
	c.muted = append(c.muted, st.mutedUntil)
	c.marked = append(c.marked, st.markedUnread)
	c.fromThem = append(c.fromThem, st.fromThem)
	c.la = append(c.la, r.LastActivityAt)
	c.lm = append(c.lm, r.LastMessageAt)
	c.preview = append(c.preview, r.LastMessagePreview)
	c.search = append(c.search, r.SearchText)
}

type messageColumns struct {
	chatJID, waID, sender, text, media []string
	fromMe, waiting                    []bool
	sentAt                             []time.Time
	status                             []int16
}

func (c *messageColumns) add(m *messagePlan) {
	c.chatJID = append(c.chatJID, m.chatJID)
	c.waID = append(c.waID, m.row.WAID)
	c.sender = append(c.sender, m.row.SenderJID)
	c.fromMe = append(c.fromMe, m.row.FromMe)
	c.sentAt = append(c.sentAt, m.row.SentAt)
	c.text = append(c.text, m.row.Text)
	c.media = append(c.media, m.row.MediaType)
	c.waiting = append(c.waiting, m.row.Waiting)
	c.status = append(c.status, m.row.Status)
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
			&r.LastMessagePreview, &r.Archived, &r.Pinned, &r.MutedUntil, &r.MarkedUnread}, func() error {
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
