package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// The durable accept must commit synchronously even though the worker's
// writes run with synchronous_commit off: they have a pool of their own.
func TestAcceptPathCommitsSynchronously(t *testing.T) {
	t.Parallel()
	s := storetest.Postgres(t)
	if !s.HasWritePool() {
		t.Fatal("a PostgreSQL store opened by Open has no write pool")
	}
	f := newFixture(t, s)
	ctx := t.Context()
	// Use the write pool on several connections at once first.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			c := chatsync.ChatInput{JID: "1650253000" + string(rune('0'+i)) + "@s.whatsapp.net", Type: chatsync.ChatPrivate, LastActivity: t0}
			if _, err := s.IngestChunk(ctx, f.ws, f.session.ID, []chatsync.ChatInput{c}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.WritePathSettings(ctx, "synchronous_commit", "enable_seqscan", "plan_cache_mode")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"off", "off", "force_generic_plan"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("write path settings %v, want %v", got, want)
	}
	// Every connection of the accept path, held at once so none is reused.
	const n = 8
	vals := make([]string, n)
	release := make(chan struct{})
	var ready sync.WaitGroup
	for i := range n {
		ready.Add(1)
		wg.Go(func() {
			v, err := s.AcceptPathSetting(ctx, "synchronous_commit")
			if err != nil {
				t.Error(err)
			}
			vals[i] = v
			ready.Done()
			<-release
		})
	}
	ready.Wait()
	close(release)
	wg.Wait()
	for i, v := range vals {
		if v != "on" {
			t.Errorf("accept path connection %d: synchronous_commit = %q, want on", i, v)
		}
	}
	if _, _, err := s.AcceptBatch(ctx, store.NewBatch{WorkspaceID: f.ws, SessionID: f.session.ID, BatchID: "b1", Kind: chatsync.BatchHistory}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.AcceptPathSetting(ctx, "synchronous_commit"); err != nil || v != "on" {
		t.Fatalf("after an accept: synchronous_commit = %q, %v; want on", v, err)
	}
}

// A write pipeline is one transaction: a failing statement undoes the
// statements before it.
func TestWritePipelineIsOneTransaction(t *testing.T) {
	t.Parallel()
	s := storetest.Postgres(t)
	ctx := t.Context()
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE wp (a int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if err := s.RunWritePipeline(ctx, "INSERT INTO wp VALUES (1)", "INSERT INTO wp VALUES (2)", "SELECT 1/0"); err == nil {
		t.Fatal("a pipeline with a failing statement succeeded")
	}
	count := func() int {
		var n int
		if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM wp").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d rows after a failed pipeline, want 0", n)
	}
	if err := s.RunWritePipeline(ctx, "INSERT INTO wp VALUES (1)", "INSERT INTO wp VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

// Closing the database closes its write pool.
func TestWritePoolClosesWithDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	s := store.New(db)
	if err := s.WritePoolErr(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePoolErr(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("write pool after Close: %v, want closed", err)
	}
}
