package wa

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The embedded mode runs on an in-process miniredis: leases (Lua scripts)
// and owner calls (PUBLISH counts, PUBSUB NUMSUB, BLPOP) must work there
// too.
func TestLeasesAndCallsOnMiniredis(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	a, b := NewLeases(rdb, "a", time.Minute), NewLeases(rdb, "b", time.Minute)
	if ok, err := a.Acquire(ctx, 1); !ok || err != nil {
		t.Fatalf("acquire: %v, %v", ok, err)
	}
	if ok, err := b.Acquire(ctx, 1); ok || err != nil {
		t.Fatalf("second owner acquired: %v, %v", ok, err)
	}
	if ok, err := a.Renew(ctx, 1); !ok || err != nil {
		t.Fatalf("renew: %v, %v", ok, err)
	}
	if err := a.Release(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if h, _ := Holder(ctx, rdb, 1); h != "" {
		t.Fatalf("holder after release %q", h)
	}

	r := NewResponder(ctx, rdb, discardLogger())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := r.Serve(ctx, 1, func(_ context.Context, req Request) Response { return Response{MessageID: "id-" + req.Text} }); err != nil {
		t.Fatal(err)
	}
	resp, err := Call(ctx, rdb, Request{SessionID: 1, Kind: RequestSend, Text: "x"}, time.Second)
	if err != nil || resp.MessageID != "id-x" {
		t.Fatalf("call: %+v, %v", resp, err)
	}
	if _, err := Call(ctx, rdb, Request{SessionID: 2, Kind: RequestSend}, time.Second); !errors.Is(err, ErrNoOwner) {
		t.Errorf("call without owner: %v", err)
	}
}
