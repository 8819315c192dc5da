package worker_test

import (
	"fmt"
	"testing"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// A value no engine can store (a NUL character) that reached a batch costs
// only its own chat, on PostgreSQL and SQLite, on both write paths: the
// store classifies it as a data error, so the worker writes that chunk's
// chats one by one. (Validation refuses NUL at SyncBatch; this is the
// store's own guard, e.g. for batches stored before that rule.)
func TestUnstorableValueCostsOnlyItsChat(t *testing.T) {
	for _, engine := range []struct {
		name   string
		sqlite bool
	}{{"postgres", false}, {"sqlite", true}} {
		for _, field := range []string{"name", "text", "push name", "subject", "message id", "linked contact"} {
			t.Run(engine.name+"/"+field, func(t *testing.T) {
				e := newEnv(t, envOptions{sqlite: engine.sqlite})
				chats := append(privates(29), group(1, t0, member(1, chatsync.RoleSuperAdmin)))
				for i := range chats {
					if err := chats[i].Validate(t0); err != nil {
						t.Fatal(err)
					}
				}
				bad := 12
				switch field {
				case "name":
					chats[bad].Name = "Ali\x00ce"
				case "text":
					chats[bad].Messages = []chatsync.MessageInput{msg("m1", t0, "hi\x00")}
				case "push name":
					chats[bad].Contact.PushName = "\x00"
				case "subject":
					bad = 29
					chats[bad].Group.Subject = "Team\x00"
				case "message id":
					chats[bad].Messages = []chatsync.MessageInput{msg("m\x001", t0, "hi")}
				case "linked contact":
					chats[bad].Contact.AltJID = "123456789012345@lid" // the Bun path on PostgreSQL
					chats[bad].Name = "Ali\x00ce"
				}
				b, _, err := e.store.AcceptBatch(t.Context(), store.NewBatch{
					WorkspaceID: e.ws, SessionID: e.session.ID, BatchID: "nul", Kind: chatsync.BatchHistory, Payload: chatsync.BatchPayload{Chats: chats},
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.handle(t, b); err != nil {
					t.Fatal(err)
				}
				got := e.batch(t, "nul")
				if got.Status != chatsync.BatchCompleted || got.WrittenCount != 29 {
					t.Fatalf("batch %s, written %d of 30; want completed, 29", got.Status, got.WrittenCount)
				}
				if len(got.FailedChats) != 1 || got.FailedChats[0].JID != chats[bad].JID {
					t.Fatalf("failed chats %+v, want only %s", got.FailedChats, chats[bad].JID)
				}
				if n := e.count(t, "chats"); n != 29 {
					t.Fatalf("%d chats stored, want 29", n)
				}
			})
		}
	}
}

// written_count counts accepted chats as reported: a batch that reports
// one chat 30 times (chunks merge the repeats into one row each) writes
// 30 of its 30, not the 3 rows it touched; with a refused chat, written
// and failed still add up to accepted.
func TestWrittenCountsAcceptedChats(t *testing.T) {
	e := newEnv(t, envOptions{})
	same := make([]chatsync.ChatInput, 30)
	for i := range same {
		same[i] = private(1, t0)
		same[i].Messages = []chatsync.MessageInput{msg(fmt.Sprint("m", i), t0, "hi")}
	}
	b := e.accept(t, "same", chatsync.BatchLive, same...)
	if err := e.handle(t, b); err != nil {
		t.Fatal(err)
	}
	if got := e.batch(t, "same"); got.AcceptedCount != 30 || got.WrittenCount != 30 || len(got.FailedChats) != 0 {
		t.Fatalf("batch accepted %d, written %d, failed %d; want 30, 30, 0", got.AcceptedCount, got.WrittenCount, len(got.FailedChats))
	}
	if n := e.count(t, "chats"); n != 1 {
		t.Fatalf("%d chats stored, want 1", n)
	}
}
