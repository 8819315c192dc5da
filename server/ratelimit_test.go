package server_test

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
)

func emptyBatch(session, batchID string) *chatsyncv1.SyncBatchRequest {
	return &chatsyncv1.SyncBatchRequest{SessionId: session, BatchId: batchID, Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE}
}

// historyBatch is an empty history batch: it counts against the
// session's history budget.
func historyBatch(session, batchID string) *chatsyncv1.SyncBatchRequest {
	b := emptyBatch(session, batchID)
	b.Kind = chatsyncv1.BatchKind_BATCH_KIND_HISTORY
	return b
}

func batchesOf(t *testing.T, env *servertest.Env, session string) int {
	t.Helper()
	var n int
	if err := env.Store.DB().DB.QueryRowContext(t.Context(), "SELECT count(*) FROM sync_batches WHERE session_id = $1", session).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkRetryAfter checks a rate-limit refusal: resource_exhausted, the
// seconds to wait in a retry-after header and in the message.
func checkRetryAfter(t *testing.T, err error, perMinute int) {
	t.Helper()
	checkRefusal(t, err, fmt.Sprintf("%d SyncBatch calls per minute", perMinute))
}

// checkRefusal is checkRetryAfter with the limit's wording.
func checkRefusal(t *testing.T, err error, limit string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted {
		t.Fatalf("err = %v, want resource_exhausted", err)
	}
	values := ce.Meta().Values("retry-after")
	if len(values) != 1 {
		t.Fatalf("retry-after %v in %v, want one value", values, ce.Meta())
	}
	secs, perr := strconv.Atoi(values[0])
	if perr != nil || secs < 1 || secs > 60 {
		t.Fatalf("retry-after = %v", values)
	}
	if !strings.Contains(ce.Message(), limit) {
		t.Fatalf("message %q does not name the limit (%s)", ce.Message(), limit)
	}
	if want := fmt.Sprintf("retry after %d s", secs); !strings.Contains(ce.Message(), want) {
		t.Fatalf("message %q does not say %q", ce.Message(), want)
	}
}

// TestRateLimit: the 61st SyncBatch of a session within a minute is
// refused with resource_exhausted and the seconds to wait, and not
// recorded; another session is unaffected; a session's sync config
// overrides the server's rate.
func TestRateLimit(t *testing.T) {
	var logs syncBuffer
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Tune: func(p *server.Params) { p.SyncRatePerMinute = 60 }})
	_, token := env.Workspace(t, "limited")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	b := createSidecar(t, api, "b", nil)
	slow := createSidecar(t, api, "slow", &chatsyncv1.SyncConfig{RatePerMinute: 5})
	ctx := t.Context()

	t.Run("61st call", func(t *testing.T) {
		start := time.Now()
		refused := 0
		var err error
		for n := 1; n <= 120 && refused == 0; n++ {
			if _, err = api.Sync.SyncBatch(ctx, historyBatch(a.id, fmt.Sprintf("a-%d", n))); err != nil {
				refused = n
			}
		}
		elapsed := time.Since(start)
		// GCRA at 60 a minute: a burst of 60, then one more each second.
		// So call 61 is the first refused unless the calls took a second
		// or more, each of which lets one more through.
		if most := 61 + int(elapsed/time.Second); refused < 61 || refused > most {
			t.Fatalf("first refusal at call %d after %s, want 61..%d", refused, elapsed, most)
		}
		checkRetryAfter(t, err, 60)
		if n := batchesOf(t, env, a.id); n != refused-1 {
			t.Fatalf("%d batches stored, want %d: the refused call must not be recorded", n, refused-1)
		}
		// The refusal's log line names workspace, session and batch.
		want := fmt.Sprintf(`"session_id":%s,"batch_id":"a-%d"`, a.id, refused)
		if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), `"code":"resource_exhausted"`) {
			t.Fatalf("no refusal line with %s in\n%s", want, logs.String())
		}
	})
	t.Run("another session is unaffected", func(t *testing.T) {
		if _, err := api.Sync.SyncBatch(ctx, historyBatch(b.id, "b-1")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("per-session rate over every protocol", func(t *testing.T) {
		for n := 1; n <= 5; n++ {
			if _, err := api.Sync.SyncBatch(ctx, historyBatch(slow.id, fmt.Sprintf("s-%d", n))); err != nil {
				t.Fatalf("call %d of 5: %v", n, err)
			}
		}
		// At 5 a minute the next call is due in 12 s: each protocol is
		// refused in the meantime.
		for _, p := range servertest.Protocols {
			t.Run(p.Name, func(t *testing.T) {
				_, err := env.Clients(token, p.Opts...).Sync.SyncBatch(ctx, historyBatch(slow.id, "s-over-"+p.Name))
				checkRetryAfter(t, err, 5)
			})
		}
		if n := batchesOf(t, env, slow.id); n != 5 {
			t.Fatalf("%d batches stored, want 5", n)
		}
	})
}

// TestLiveBudget: live batches have their own per-session budget, so a
// session whose history budget is used up still gets its live messages in,
// and the live budget is refused on its own terms.
func TestLiveBudget(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB,
		Tune: func(p *server.Params) { p.SyncRatePerMinute, p.SyncLiveRatePerMinute = 5, 10 }})
	_, token := env.Workspace(t, "live-budget")
	api := env.Clients(token)
	sc := createSidecar(t, api, "busy", nil)
	ctx := t.Context()
	call := func(req *chatsyncv1.SyncBatchRequest) error {
		_, err := api.Sync.SyncBatch(ctx, req)
		return err
	}
	for n := 1; n <= 5; n++ {
		if err := call(historyBatch(sc.id, fmt.Sprintf("h-%d", n))); err != nil {
			t.Fatalf("history call %d of 5: %v", n, err)
		}
	}
	checkRetryAfter(t, call(historyBatch(sc.id, "h-over")), 5)
	// GCRA at 10 a minute: a burst of 10, then one every 6 s; the calls
	// take well under that.
	for n := 1; n <= 10; n++ {
		if err := call(emptyBatch(sc.id, fmt.Sprintf("l-%d", n))); err != nil {
			t.Fatalf("live call %d of 10 with the history budget used up: %v", n, err)
		}
	}
	checkRefusal(t, call(emptyBatch(sc.id, "l-over")), "10 live SyncBatch calls per minute")
	if n := batchesOf(t, env, sc.id); n != 15 {
		t.Fatalf("%d batches stored, want 15 (5 history, 10 live)", n)
	}
}
