package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// planNode is one node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	Index     string     `json:"Index Name"`
	IndexCond string     `json:"Index Cond"`
	Filter    string     `json:"Filter"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

func explain(t *testing.T, s *store.Store, query string) planNode {
	t.Helper()
	var raw string
	if err := s.DB().DB.QueryRowContext(t.Context(), "EXPLAIN (FORMAT JSON) "+query).Scan(&raw); err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	var out []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil || len(out) != 1 {
		t.Fatalf("decode plan: %v", err)
	}
	return out[0].Plan
}

// seedChats inserts n chats of a workspace across sessions with
// generate_series: activity one second apart, every tenth a group, every
// seventh unread. It is how the benchmarks seed a million rows, too.
func seedChats(ctx context.Context, s *store.Store, ws int64, sessions []int64, n int, newest time.Time) error {
	_, err := s.DB().DB.ExecContext(ctx, `
INSERT INTO chats (workspace_id, session_id, jid, type, name, unread_count, last_activity_at, last_message_at,
                   last_message_preview, search_text, participant_count)
SELECT $1, ($2::bigint[])[1 + g % cardinality($2::bigint[])],
       CASE WHEN g % 10 = 0 THEN '1203630' || g || '@g.us' ELSE '62812' || g || '@s.whatsapp.net' END,
       CASE WHEN g % 10 = 0 THEN 'group' ELSE 'private' END,
       'Chat ' || g, CASE WHEN g % 7 = 0 THEN 2 ELSE 0 END,
       $3::timestamptz - g * interval '1 second', $3::timestamptz - g * interval '1 second',
       'hello ' || g, 'chat ' || g || ' +62812' || g, CASE WHEN g % 10 = 0 THEN 5 ELSE 0 END
FROM generate_series(1, $4::int) AS g`, ws, int64Array(sessions), newest, n)
	if err != nil {
		return fmt.Errorf("seed %d chats: %w", n, err)
	}
	return nil
}

func int64Array(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return "{" + strings.Join(s, ",") + "}"
}

// TestListChatsPlansUseIndexes runs EXPLAIN over the exact SQL of every
// ListChats shape on 100,000 chats: each is an ordered index scan (no Sort
// node over the table, no sequential scan), keyset cursors are index
// bounds, and search uses the trigram index.
func TestListChatsPlansUseIndexes(t *testing.T) {
	t.Parallel()
	s := storetest.Postgres(t)
	ctx := t.Context()
	mk := func(name string, n int) (int64, []int64) {
		ws, _, err := s.EnsureWorkspace(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := range n {
			sess, err := s.CreateSession(ctx, store.NewSession{WorkspaceID: ws.ID, DisplayName: fmt.Sprint(name, i), Provider: chatsync.ProviderWebJS, SecretNonce: []byte("n")})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, sess.ID)
		}
		return ws.ID, ids
	}
	ws, sessions := mk("big", 10)
	other, otherSessions := mk("other", 2)
	if err := seedChats(ctx, s, ws, sessions, 100000, t0); err != nil {
		t.Fatal(err)
	}
	if err := seedChats(ctx, s, other, otherSessions, 20000, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE chats; ANALYZE sessions; ANALYZE contacts; ANALYZE groups"); err != nil {
		t.Fatal(err)
	}
	// A cursor halfway down the list.
	var mid store.ChatCursor
	if err := s.DB().DB.QueryRowContext(ctx, "SELECT last_activity_at, id FROM chats WHERE workspace_id = $1 ORDER BY last_activity_at DESC, id DESC OFFSET 50000 LIMIT 1", ws).
		Scan(&mid.LastActivityAt, &mid.ID); err != nil {
		t.Fatal(err)
	}
	const (
		wsIdx       = "idx_chats_workspace_activity"
		sessionIdx  = "idx_chats_workspace_session_activity"
		typeIdx     = "idx_chats_workspace_type_activity"
		unreadIdx   = "idx_chats_workspace_unread_marked_activity"
		archivedIdx = "idx_chats_workspace_archived_activity"
		pinnedIdx   = "idx_chats_workspace_pinned_activity"
		trgmIdx     = "idx_chats_search_trgm"
	)
	one, two := []int64{sessions[3]}, []int64{sessions[3], sessions[7]}
	tests := []struct {
		name   string
		f      store.ChatFilter
		search bool
		want   []string // acceptable indexes on chats
	}{
		{"workspace", store.ChatFilter{}, false, []string{wsIdx}},
		{"one session", store.ChatFilter{SessionIDs: one}, false, []string{sessionIdx}},
		{"two sessions", store.ChatFilter{SessionIDs: two}, false, []string{wsIdx}},
		{"groups", store.ChatFilter{Type: chatsync.ChatGroup}, false, []string{typeIdx}},
		{"private", store.ChatFilter{Type: chatsync.ChatPrivate}, false, []string{typeIdx, wsIdx}},
		{"unread", store.ChatFilter{UnreadOnly: true}, false, []string{unreadIdx}},
		{"unread groups", store.ChatFilter{UnreadOnly: true, Type: chatsync.ChatGroup}, false, []string{unreadIdx, typeIdx}},
		{"one session, groups", store.ChatFilter{SessionIDs: one, Type: chatsync.ChatGroup}, false, []string{sessionIdx, typeIdx}},
		{"one session, unread", store.ChatFilter{SessionIDs: one, UnreadOnly: true}, false, []string{sessionIdx, unreadIdx}},
		{"archived", store.ChatFilter{Archived: new(true)}, false, []string{archivedIdx}},
		{"not archived", store.ChatFilter{Archived: new(false)}, false, []string{wsIdx}},
		{"pinned", store.ChatFilter{Pinned: new(true)}, false, []string{pinnedIdx}},
		{"unread, not archived", store.ChatFilter{UnreadOnly: true, Archived: new(false)}, false, []string{unreadIdx}},
		{"search", store.ChatFilter{Query: "chat 4242"}, true, []string{trgmIdx}},
		{"search phone", store.ChatFilter{Query: "+6281277777"}, true, []string{trgmIdx}},
	}
	for _, tt := range tests {
		for _, cursor := range []*store.ChatCursor{nil, &mid} {
			t.Run(fmt.Sprintf("%s/cursor=%t", tt.name, cursor != nil), func(t *testing.T) {
				f := tt.f
				f.WorkspaceID = ws
				query := s.ListChatsSQL(f, cursor, 51)
				plan := explain(t, s, query)
				var used []string
				var bound bool
				plan.walk(func(n planNode) {
					switch {
					case n.NodeType == "Seq Scan" && n.Relation == "chats":
						t.Errorf("sequential scan of chats:\n%s", query)
					case n.NodeType == "Sort" && !tt.search:
						t.Errorf("Sort node: the index order is not used:\n%s", query)
					case n.Relation == "chats" || slices.Contains([]string{wsIdx, sessionIdx, typeIdx, unreadIdx, archivedIdx, pinnedIdx, trgmIdx}, n.Index):
						if n.Index != "" {
							used = append(used, n.Index)
						}
						if strings.Contains(n.IndexCond, "ROW(") || strings.Contains(n.IndexCond, "last_activity_at, c.id) <") {
							bound = true
						}
					}
				})
				if len(used) == 0 || !slices.ContainsFunc(used, func(ix string) bool { return slices.Contains(tt.want, ix) }) {
					t.Fatalf("chats scanned with %v, want one of %v; plan:\n%s", used, tt.want, mustJSON(plan))
				}
				t.Logf("indexes %v, cursor bound %t", used, bound)
				if cursor != nil && !tt.search && !bound {
					t.Fatalf("the keyset cursor is not an index bound; plan:\n%s", mustJSON(plan))
				}
			})
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
