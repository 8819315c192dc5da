package bench_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/phone"
	"github.com/chatsync/chatsync/store"
)

// ceiling writes the workload's rows with plain batched INSERT … ON
// CONFLICT through pgx, one transaction per batch of 50 chats, from as many
// goroutines as the end-to-end run has callers: no server, no queue, no
// validation, no events, phone numbers normalised beforehand. Like the
// worker's chunks, its transactions commit asynchronously
// (synchronous_commit off). It returns chats/s.
func (h *harness) ceiling(b *testing.B) float64 {
	b.Helper()
	ctx := b.Context()
	url, st := openStore(b)
	ws, _, err := st.EnsureWorkspace(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	sess, err := st.CreateSession(ctx, store.NewSession{WorkspaceID: ws.ID, DisplayName: "bench", Provider: chatsync.ProviderWebJS, SecretNonce: []byte("n")})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(h.sh.Callers)
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()

	batches := make([]rawBatch, len(h.requests))
	for i, req := range h.requests {
		batches[i] = newRawBatch(req, ws.ID, sess.ID, h.start)
	}
	if err := pool.Ping(ctx); err != nil {
		b.Fatal(err)
	}

	cpu := startCPU(b, st.DB().DB, h.rdb)
	start := time.Now()
	next := make(chan *rawBatch)
	errs := make(chan error, h.sh.Callers)
	var wg sync.WaitGroup
	for range h.sh.Callers {
		wg.Go(func() {
			for rb := range next {
				if err := pgx.BeginFunc(ctx, pool, rb.write); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
		})
	}
	for i := range batches {
		next <- &batches[i]
	}
	close(next)
	wg.Wait()
	took := time.Since(start)
	cpu.stop(b)
	b.Logf("ceiling: %d chats in %.2fs: CPU s: pgx writers %.2f, postgres %.2f", h.sh.Chats, took.Seconds(), cpu.self, cpu.postgres)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("ceiling: %v", err)
	}
	h.verify(b, st.DB().DB)
	return float64(h.sh.Chats) / took.Seconds()
}

// rawBatch is one SyncBatch's rows, ready to insert.
type rawBatch struct {
	ws, session int64
	now         time.Time
	contacts    [][]any // phone_jid, phone_e164, phone_raw, phone_valid, push_name
	chats       []rawChat
}

type rawChat struct {
	jid          string
	args         []any // everything but workspace, session and contact
	group        []any // subject, description, owner_jid
	participants [][]any
	messages     [][]any
}

func newRawBatch(req *chatsyncv1.SyncBatchRequest, ws, session int64, now time.Time) rawBatch {
	rb := rawBatch{ws: ws, session: session, now: now}
	for _, c := range req.GetChats() {
		rc := rawChat{jid: c.GetJid()}
		typ := chatsync.ChatPrivate
		search := []string{c.GetName()}
		if c.GetType() == chatsyncv1.ChatType_CHAT_TYPE_GROUP {
			typ = chatsync.ChatGroup
			g := c.GetGroup()
			rc.group = []any{g.GetSubject(), g.GetDescription(), g.GetOwnerJid()}
			for _, p := range g.GetParticipants() {
				// As the store does: a member's number is its JID's digits.
				role := strings.ToLower(strings.TrimPrefix(p.GetRole().String(), "PARTICIPANT_ROLE_"))
				rc.participants = append(rc.participants, []any{p.GetJid(), "+" + phone.FromJID(p.GetJid()), role})
			}
		} else {
			raw := c.GetContact().GetPhone()
			e164, valid := phone.Normalize(raw)
			rb.contacts = append(rb.contacts, []any{c.GetJid(), e164, raw, valid, c.GetContact().GetPushName()})
			search = append(search, c.GetContact().GetPushName(), raw, "+"+phone.FromJID(c.GetJid()))
		}
		last := c.GetLastActivityTime().AsTime()
		var lastMsg time.Time
		preview := ""
		for _, m := range c.GetMessages() {
			at := m.GetTimestamp().AsTime()
			if at.After(lastMsg) {
				lastMsg, preview = at, m.GetText()
			}
			rc.messages = append(rc.messages, []any{m.GetId(), m.GetSenderJid(), m.GetFromMe(), at, m.GetText(), mediaName(m.GetMediaType())})
		}
		rc.args = []any{c.GetJid(), string(typ), c.GetName(), c.GetUnreadCount(), c.GetArchived(), c.GetPinned(), last, lastMsg, preview,
			int32(len(rc.participants)), strings.ToLower(strings.Join(search, " "))}
		rb.chats = append(rb.chats, rc)
	}
	return rb
}

func mediaName(m chatsyncv1.MediaType) string {
	if m == chatsyncv1.MediaType_MEDIA_TYPE_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(m.String(), "MEDIA_TYPE_"))
}

// values returns "($1,$2,…),(…)" for rows of n columns.
func values(rows, n int) string {
	var sb strings.Builder
	p := 1
	for r := range rows {
		if r > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('(')
		for c := range n {
			if c > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "$%d", p)
			p++
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// write inserts the batch: contacts, chats, groups, participants,
// messages, each one multi-row statement.
func (rb *rawBatch) write(tx pgx.Tx) error {
	ctx := context.Background()
	contactIDs := map[string]int64{}
	if len(rb.contacts) > 0 {
		var args []any
		for _, c := range rb.contacts {
			args = append(args, rb.ws)
			args = append(args, c...)
			args = append(args, rb.now)
		}
		rows, err := tx.Query(ctx, `INSERT INTO contacts (workspace_id, phone_jid, phone_e164, phone_raw, phone_valid, push_name, updated_at)
			VALUES `+values(len(rb.contacts), 7)+`
			ON CONFLICT (workspace_id, phone_jid) DO UPDATE SET phone_e164 = EXCLUDED.phone_e164, phone_raw = EXCLUDED.phone_raw,
				phone_valid = EXCLUDED.phone_valid, push_name = EXCLUDED.push_name, updated_at = EXCLUDED.updated_at
			RETURNING id, phone_jid`, args...)
		if err != nil {
			return err
		}
		if err := scanIDs(rows, contactIDs); err != nil {
			return fmt.Errorf("contacts: %w", err)
		}
	}
	var args []any
	for _, c := range rb.chats {
		var contact *int64
		if id, ok := contactIDs[c.jid]; ok {
			contact = &id
		}
		args = append(args, rb.ws, rb.session, contact, rb.now)
		args = append(args, c.args...)
	}
	rows, err := tx.Query(ctx, `INSERT INTO chats (workspace_id, session_id, contact_id, created_at, jid, type, name, unread_count, archived, pinned,
			last_activity_at, last_message_at, last_message_preview, participant_count, search_text)
		VALUES `+values(len(rb.chats), 15)+`
		ON CONFLICT (session_id, jid) DO UPDATE SET name = EXCLUDED.name, contact_id = COALESCE(EXCLUDED.contact_id, chats.contact_id),
			unread_count = EXCLUDED.unread_count, archived = EXCLUDED.archived, pinned = EXCLUDED.pinned,
			last_activity_at = GREATEST(EXCLUDED.last_activity_at, chats.last_activity_at),
			last_message_at = GREATEST(EXCLUDED.last_message_at, chats.last_message_at),
			last_message_preview = EXCLUDED.last_message_preview, participant_count = EXCLUDED.participant_count,
			search_text = EXCLUDED.search_text, updated_at = now()
		RETURNING id, jid`, args...)
	if err != nil {
		return err
	}
	chatIDs := map[string]int64{}
	if err := scanIDs(rows, chatIDs); err != nil {
		return fmt.Errorf("chats: %w", err)
	}
	var groups, parts, msgs []any
	var nGroups, nParts, nMsgs int
	for _, c := range rb.chats {
		id := chatIDs[c.jid]
		if c.group != nil {
			groups = append(groups, id)
			groups = append(groups, c.group...)
			nGroups++
		}
		for _, p := range c.participants {
			parts = append(parts, id)
			parts = append(parts, p...)
			nParts++
		}
		for _, m := range c.messages {
			msgs = append(msgs, id)
			msgs = append(msgs, m...)
			nMsgs++
		}
	}
	if nGroups > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO groups (chat_id, subject, description, owner_jid) VALUES `+values(nGroups, 4)+`
			ON CONFLICT (chat_id) DO UPDATE SET subject = EXCLUDED.subject, description = EXCLUDED.description, owner_jid = EXCLUDED.owner_jid`, groups...); err != nil {
			return fmt.Errorf("groups: %w", err)
		}
	}
	if nParts > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO group_participants (chat_id, jid, phone_e164, role) VALUES `+values(nParts, 4)+`
			ON CONFLICT (chat_id, jid) DO UPDATE SET role = EXCLUDED.role, phone_e164 = EXCLUDED.phone_e164`, parts...); err != nil {
			return fmt.Errorf("participants: %w", err)
		}
	}
	if nMsgs > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO messages (chat_id, wa_id, sender_jid, from_me, sent_at, text, media_type) VALUES `+values(nMsgs, 7)+`
			ON CONFLICT (chat_id, wa_id) DO NOTHING`, msgs...); err != nil {
			return fmt.Errorf("messages: %w", err)
		}
	}
	return nil
}

func scanIDs(rows pgx.Rows, into map[string]int64) error {
	defer rows.Close()
	for rows.Next() {
		var id int64
		var key string
		if err := rows.Scan(&id, &key); err != nil {
			return err
		}
		into[key] = id
	}
	return rows.Err()
}
