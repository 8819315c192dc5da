package pressure

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisDB is this package's Redis database (flushed by its tests).
const redisDB = 10

func TestGaugeAverages(t *testing.T) {
	var g Gauge
	if g.Average() != 0 {
		t.Fatalf("empty gauge: %v", g.Average())
	}
	for range 10 {
		g.Observe(10 * time.Millisecond)
	}
	if got := g.Average(); got != 10*time.Millisecond {
		t.Fatalf("ten calls of 10 ms: %v", got)
	}
	for range 100 {
		g.Observe(200 * time.Millisecond)
	}
	if got := g.Average(); got < 190*time.Millisecond || got > 200*time.Millisecond {
		t.Fatalf("after 100 calls of 200 ms: %v, want it to have followed them", got)
	}
	for range 100 {
		g.Observe(time.Millisecond)
	}
	if got := g.Average(); got > 10*time.Millisecond {
		t.Fatalf("after 100 calls of 1 ms: %v, want it back down", got)
	}
}

// A worker sees the worst fresh reading of all servers; a stale one (a
// server gone) is no pressure, and a long dead one is removed.
func TestReaderTakesTheWorstFreshServer(t *testing.T) {
	rdb := testRedis(t)
	ctx := t.Context()
	now := time.Now()
	rdb.HSet(ctx, Key, "fast", encode(5*time.Millisecond, now))
	rdb.HSet(ctx, Key, "slow", encode(80*time.Millisecond, now))
	rdb.HSet(ctx, Key, "gone", encode(time.Second, now.Add(-2*stale)))
	rdb.HSet(ctx, Key, "dead", encode(time.Second, now.Add(-200*stale)))
	rdb.HSet(ctx, Key, "garbage", "x")

	r := NewReader(rdb, 50*time.Millisecond, 100*time.Millisecond)
	if got := r.Worst(ctx); got != 80*time.Millisecond {
		t.Fatalf("worst: %v, want the slow server's 80ms", got)
	}
	if !r.High(ctx) {
		t.Fatal("80 ms over a 50 ms threshold is not high")
	}
	fields, err := rdb.HKeys(ctx, Key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 3 {
		t.Fatalf("fields left: %v, want fast, slow, gone (dead and garbage removed)", fields)
	}
	if NewReader(rdb, 0, time.Second).High(ctx) {
		t.Fatal("a threshold of 0 disables yielding")
	}
	if NewReader(rdb, 100*time.Millisecond, time.Second).High(ctx) {
		t.Fatal("80 ms under a 100 ms threshold is high")
	}
}

// Yield pauses while the servers are slow, never longer than its bound,
// and stops pausing as soon as they recover; a published gauge is what it
// reads.
func TestYieldIsBoundedAndEndsWithThePressure(t *testing.T) {
	rdb := testRedis(t)
	ctx := t.Context()
	var g Gauge
	g.Observe(300 * time.Millisecond)
	pub, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); g.Publish(pub, rdb, "api-1") }()
	waitFor(t, func() bool { return rdb.HExists(ctx, Key, "api-1").Val() })

	r := NewReader(rdb, 50*time.Millisecond, time.Second)
	var slept []time.Duration
	r.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	paused, err := r.Yield(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if paused != time.Second || len(slept) != 10 {
		t.Fatalf("under constant pressure: paused %v in %d steps, want the 1s bound in 10", paused, len(slept))
	}

	// The servers recover after two steps.
	slept = nil
	r.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		if len(slept) == 2 {
			rdb.HSet(ctx, Key, "api-1", encode(time.Millisecond, time.Now()))
		}
		return nil
	}
	paused, _ = r.Yield(ctx)
	if paused != 200*time.Millisecond {
		t.Fatalf("pressure gone after two steps: paused %v, want 200ms", paused)
	}

	// A stopped server removes its reading.
	stop()
	<-done
	if rdb.HExists(ctx, Key, "api-1").Val() {
		t.Fatal("a stopped server's reading is still there")
	}
	if paused, _ := r.Yield(ctx); paused != 0 {
		t.Fatalf("without servers: paused %v", paused)
	}
}

// A Redis that cannot be reached reads as no pressure: workers go on.
func TestRedisDownIsNoPressure(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	r := NewReader(rdb, time.Millisecond, time.Second)
	if paused, err := r.Yield(t.Context()); paused != 0 || err != nil {
		t.Fatalf("Redis down: paused %v, %v", paused, err)
	}
	var nilReader *Reader
	if paused, err := nilReader.Yield(t.Context()); paused != 0 || err != nil {
		t.Fatalf("nil reader: paused %v, %v", paused, err)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testRedis is the machine's Redis (TEST_REDIS_ADDR), this package's
// database flushed. Redis is required: the test fails without it.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: redisDB})
	if err := rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("Redis is required (TEST_REDIS_ADDR=%s): %v", addr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
