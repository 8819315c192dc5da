package chats_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/store"
)

// listSessions is how many sessions the workspace's chats spread over.
const listSessions = 10

// seedSQL inserts $2 chats of workspace $1 across the sessions $3, newest
// $4, one second apart: nine in ten private with their own contact, one in
// ten a group with its groups row; every seventh unread.
var seedSQL = []string{`
INSERT INTO contacts (workspace_id, phone_jid, phone_e164, phone_raw, phone_valid, push_name)
SELECT $1, '62812' || lpad(g::text, 7, '0') || '@s.whatsapp.net', '+62812' || lpad(g::text, 7, '0'),
       '62812' || lpad(g::text, 7, '0'), true, 'Person ' || g
FROM generate_series(1, $2::int) AS g WHERE g % 10 <> 0`, `
INSERT INTO chats (workspace_id, session_id, jid, type, name, contact_id, unread_count, last_activity_at,
                   last_message_at, last_message_preview, participant_count, search_text)
SELECT $1, ($3::bigint[])[1 + g % cardinality($3::bigint[])],
       CASE WHEN g % 10 = 0 THEN '1203630' || lpad(g::text, 11, '0') || '@g.us'
            ELSE '62812' || lpad(g::text, 7, '0') || '@s.whatsapp.net' END,
       CASE WHEN g % 10 = 0 THEN 'group' ELSE 'private' END,
       CASE WHEN g % 10 = 0 THEN 'Group ' || g ELSE '' END,
       ct.id, CASE WHEN g % 7 = 0 THEN 2 ELSE 0 END,
       $4::timestamptz - g * interval '1 second', $4::timestamptz - g * interval '1 second',
       'message number ' || g, CASE WHEN g % 10 = 0 THEN 8 ELSE 0 END,
       CASE WHEN g % 10 = 0 THEN 'group ' || g ELSE 'person ' || g || ' +62812' || lpad(g::text, 7, '0') END
FROM generate_series(1, $2::int) AS g
LEFT JOIN contacts AS ct ON ct.workspace_id = $1 AND ct.phone_jid = '62812' || lpad(g::text, 7, '0') || '@s.whatsapp.net'`, `
INSERT INTO groups (chat_id, subject, description, owner_jid)
SELECT id, name, 'about ' || name, '628120000001@s.whatsapp.net' FROM chats WHERE workspace_id = $1 AND type = 'group'`,
}

// listFixture is a seeded schema: n chats of workspace "bench" across 10
// sessions and n/10 of workspace "other". A complete seed of the same size
// is reused between runs (seeding a million rows takes minutes).
type listFixture struct {
	dsn      string
	token    string
	sessions []int64
}

func seeded(b *testing.B, n int) listFixture {
	b.Helper()
	ctx := b.Context()
	schema := fmt.Sprintf("bench_listchats_%d", n)
	admin := adminDB(b)
	var have int
	err := admin.QueryRowContext(ctx, "SELECT n FROM "+schema+".bench_seed").Scan(&have)
	dsn := schemaURL(b, schema)
	if err != nil || have != n {
		b.Logf("seeding %d chats into %s", n, schema)
		start := time.Now()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
			b.Fatal(err)
		}
		st := open(b, dsn)
		seed(b, st, "bench", n, listSessions)
		seed(b, st, "other", n/10, 2)
		for _, q := range []string{"VACUUM ANALYZE chats", "VACUUM ANALYZE contacts", "VACUUM ANALYZE groups", "VACUUM ANALYZE sessions", "CREATE TABLE bench_seed (n int)"} {
			if _, err := st.DB().DB.ExecContext(ctx, q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := st.DB().DB.ExecContext(ctx, "INSERT INTO bench_seed VALUES ($1)", n); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded in %v", time.Since(start).Round(time.Second))
	}
	st := open(b, dsn)
	ws, _, err := st.EnsureWorkspace(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	f := listFixture{dsn: dsn, token: "bench-" + fmt.Sprint(time.Now().UnixNano())}
	if _, err := st.CreateToken(ctx, ws.ID, "bench", f.token); err != nil {
		b.Fatal(err)
	}
	ss, err := st.Sessions(ctx, ws.ID, 0, 100)
	if err != nil || len(ss) != listSessions {
		b.Fatalf("sessions: %d, %v", len(ss), err)
	}
	for _, s := range ss {
		f.sessions = append(f.sessions, s.ID)
	}
	return f
}

// open opens and migrates a store.
func open(b *testing.B, dsn string) *store.Store {
	b.Helper()
	db, err := store.Open(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	st := store.New(db)
	if _, err := st.Migrate(b.Context()); err != nil {
		b.Fatal(err)
	}
	return st
}

func seed(b *testing.B, st *store.Store, name string, n, sessions int) {
	b.Helper()
	ctx := b.Context()
	ws, _, err := st.EnsureWorkspace(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, sessions)
	for i := range sessions {
		s, err := st.CreateSession(ctx, store.NewSession{WorkspaceID: ws.ID, DisplayName: fmt.Sprintf("%s %d", name, i), Provider: chatsync.ProviderWebJS, SecretNonce: []byte("n")})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = fmt.Sprint(s.ID)
	}
	arr := "{" + join(ids) + "}"
	newest := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, q := range seedSQL {
		args := []any{ws.ID, n, arr, newest}
		switch i {
		case 0:
			args = args[:2]
		case 2:
			args = args[:1]
		}
		if _, err := st.DB().DB.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("seed step %d: %v", i, err)
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// BenchmarkListChats measures ListChats pages of 50 over the real Connect
// HTTP path (h2c to a server process) on BENCH_CHATS chats (default
// 100,000; the recorded run uses 1,000,000) of one workspace across 10
// sessions: the first page and a page halfway down, with and without a
// session filter. It reports p50 and p99 latency per call.
func BenchmarkListChats(b *testing.B) {
	n := envInt("BENCH_CHATS", 100000)
	f := seeded(b, n)
	flushRedis(b)
	srv := startServer(b, f.dsn)
	client := chatsyncv1connect.NewChatServiceClient(h2c(), srv.URL, connect.WithInterceptors(bearer(f.token)))
	session := []string{fmt.Sprint(f.sessions[3])}
	shapes := []struct {
		name     string
		sessions []string
		skip     int // chats before the page
	}{
		{"workspace/first", nil, 0},
		{"workspace/deep", nil, n / 2},
		{"session/first", session, 0},
		{"session/deep", session, n / listSessions / 2},
	}
	st := open(b, f.dsn)
	ws, _, err := st.EnsureWorkspace(b.Context(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, sh := range shapes {
		token, cur := skipTo(b, client, sh.sessions, sh.skip)
		b.Run(sh.name, func(b *testing.B) {
			req := &chatsyncv1.ListChatsRequest{SessionIds: sh.sessions, PageSize: 50, PageToken: token}
			ctx := context.Background()
			lat := make([]time.Duration, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				res, err := client.ListChats(ctx, req)
				lat = append(lat, time.Since(start))
				if err != nil || len(res.GetChats()) != 50 {
					b.Fatalf("ListChats: %d chats, %v", len(res.GetChats()), err)
				}
			}
			percentiles(b, lat)
		})
		// The same page straight from the store, without HTTP, auth and
		// the session check: the database's share of the latency.
		b.Run("store/"+sh.name, func(b *testing.B) {
			f := store.ChatFilter{WorkspaceID: ws.ID}
			if len(sh.sessions) == 1 {
				f.SessionIDs = []int64{idOf(sh.sessions[0])}
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, 4096)
			for b.Loop() {
				start := time.Now()
				chats, err := st.ListChats(ctx, f, cur, 51)
				lat = append(lat, time.Since(start))
				if err != nil || len(chats) != 51 {
					b.Fatalf("store ListChats: %d chats, %v", len(chats), err)
				}
			}
			percentiles(b, lat)
		})
	}
}

// idOf parses a decimal ID of the API.
func idOf(s string) int64 {
	var id int64
	_, _ = fmt.Sscan(s, &id)
	return id
}

// skipTo walks pages of 200 until skip chats are behind and returns the
// page token there ("" for the first page) and the store's cursor (nil for
// the first page).
func skipTo(b *testing.B, c chatsyncv1connect.ChatServiceClient, sessions []string, skip int) (string, *store.ChatCursor) {
	b.Helper()
	token := ""
	var cur *store.ChatCursor
	for done := 0; done < skip; {
		size := min(200, skip-done)
		res, err := c.ListChats(b.Context(), &chatsyncv1.ListChatsRequest{SessionIds: sessions, PageSize: int32(size), PageToken: token})
		if err != nil || len(res.GetChats()) != size {
			b.Fatalf("walk to %d: %d chats at %d, %v", skip, len(res.GetChats()), done, err)
		}
		for _, ch := range res.GetChats() {
			if len(sessions) == 1 && ch.GetSessionId() != sessions[0] {
				b.Fatalf("chat %s of session %s in a page filtered by %s", ch.GetId(), ch.GetSessionId(), sessions[0])
			}
		}
		done += size
		token = res.GetNextPageToken()
		last := res.GetChats()[size-1]
		cur = &store.ChatCursor{LastActivityAt: last.GetLastActivityTime().AsTime(), ID: idOf(last.GetId())}
	}
	return token, cur
}
