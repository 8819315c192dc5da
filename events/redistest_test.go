package events_test

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// testRedis returns a client on this package's own Redis DB (2), flushed.
// Redis is required: without it the tests fail, they never skip.
func testRedis(t testing.TB) *redis.Client {
	t.Helper()
	addr := os.Getenv("TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: 2})
	if err := rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("Redis is required (TEST_REDIS_ADDR=%s): %v", addr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
