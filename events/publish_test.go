package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
)

// Events of several workspaces in one Publish, more than one script call
// holds: each lands once, in order, in its own workspace's stream, under
// the ID Publish returned for it.
func TestPublishManyEventsOfSeveralWorkspaces(t *testing.T) {
	rdb := testRedis(t)
	pub := events.NewPublisher(rdb, 10000)
	var evs []chatsync.Event
	for i := range 300 {
		evs = append(evs, chatEvent(1, "a"+strconv.Itoa(i)))
	}
	for i := range 10 {
		evs = append(evs, chatEvent(2, "b"+strconv.Itoa(i)))
	}
	for i := range 290 {
		evs = append(evs, chatEvent(1, "c"+strconv.Itoa(i)))
	}
	evs = append(evs, chatEvent(2, "d"))
	ids, err := pub.Publish(t.Context(), evs...)
	if err != nil || len(ids) != len(evs) {
		t.Fatalf("Publish = %d IDs, %v; want %d", len(ids), err, len(evs))
	}
	for ws, want := range map[int64][]int{1: idx(0, 300, 310, 600), 2: idx(300, 310, 600, 601)} {
		entries, err := rdb.XRange(t.Context(), "chatsync:events:{"+strconv.FormatInt(ws, 10)+"}", "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(want) {
			t.Fatalf("workspace %d: %d stream entries, want %d", ws, len(entries), len(want))
		}
		for k, e := range entries {
			var got chatsync.Event
			if err := json.Unmarshal([]byte(e.Values["e"].(string)), &got); err != nil {
				t.Fatal(err)
			}
			i := want[k]
			if e.ID != ids[i] || got.Chat.Name != evs[i].Chat.Name || got.WorkspaceID != ws {
				t.Fatalf("workspace %d entry %d: %s %q (workspace %d), want %s %q", ws, k, e.ID, got.Chat.Name, got.WorkspaceID, ids[i], evs[i].Chat.Name)
			}
		}
	}
}

// idx lists the integers of the half-open ranges [a0, a1), [b0, b1).
func idx(a0, a1, b0, b1 int) []int {
	var out []int
	for i := a0; i < a1; i++ {
		out = append(out, i)
	}
	for i := b0; i < b1; i++ {
		out = append(out, i)
	}
	return out
}

// perEventScript is how Publish worked before: one script call per event.
// BenchmarkPublish measures the two side by side.
var perEventScript = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[2])
return id
`)

// BenchmarkPublish publishes what a 50-chat batch produces (50
// chat_upserted and 50 message_added events) and reports the Redis
// server's CPU per batch alongside the wall time.
func BenchmarkPublish(b *testing.B) {
	rdb := testRedis(b)
	evs := make([]chatsync.Event, 100)
	for i := range evs {
		evs[i] = chatEvent(1, "chat "+strconv.Itoa(i))
	}
	ctx := b.Context()
	run := map[string]func() error{
		"script-per-call": func() error {
			_, err := events.NewPublisher(rdb, 10000).Publish(ctx, evs...)
			return err
		},
		"script-per-event": func() error {
			pipe := rdb.Pipeline()
			for _, ev := range evs {
				body, err := json.Marshal(ev)
				if err != nil {
					return err
				}
				perEventScript.Eval(ctx, pipe, []string{"chatsync:events:{1}", "chatsync:events:{1}:live"}, 10000, body)
			}
			_, err := pipe.Exec(ctx)
			return err
		},
	}
	for _, name := range []string{"script-per-event", "script-per-call"} {
		b.Run(name, func(b *testing.B) {
			before := redisCPU(ctx, b, rdb)
			for b.Loop() {
				if err := run[name](); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((redisCPU(ctx, b, rdb)-before)*1e6/float64(b.N), "redis-CPU-µs/batch")
		})
	}
}

// redisCPU is the Redis server's CPU time so far, in seconds.
func redisCPU(ctx context.Context, b *testing.B, rdb *redis.Client) float64 {
	info, err := rdb.InfoMap(ctx, "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, k := range []string{"used_cpu_sys", "used_cpu_user"} {
		var v float64
		if _, err := fmt.Sscan(info["CPU"][k], &v); err != nil {
			b.Fatalf("INFO cpu %s: %v", k, err)
		}
		total += v
	}
	return total
}
