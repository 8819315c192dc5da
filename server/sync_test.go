package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/client"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/worker/tasks"
)

func privateSync(n int) *chatsyncv1.SyncChat {
	return &chatsyncv1.SyncChat{
		Jid: fmt.Sprintf("62812%08d@s.whatsapp.net", n), Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE,
		LastActivityTime: timestamppb.New(time.Now().Add(-time.Minute)),
	}
}

// queued is how many tasks wait in a queue.
func queued(t *testing.T, env *servertest.Env, queue string) int {
	t.Helper()
	info, err := asynq.NewInspectorFromRedisClient(env.Redis).GetQueueInfo(queue)
	if err != nil {
		return 0 // no task was ever queued there
	}
	return info.Size
}

// bigBatch is a batch of at least size bytes.
func bigBatch(session string, size int) *chatsyncv1.SyncBatchRequest {
	req := emptyBatch(session, "big")
	text := strings.Repeat("x", 60<<10)
	at := timestamppb.New(time.Now().Add(-time.Minute))
	for i := 0; proto.Size(req) < size; i++ {
		c := privateSync(i)
		c.Messages = []*chatsyncv1.SyncMessage{{Id: "m", Timestamp: at, Text: text}}
		req.Chats = append(req.Chats, c)
	}
	return req
}

// A request that is wrong as a whole is refused invalid_argument with the
// field named, and stores nothing.
func TestSyncBatchRefusesBadRequests(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	_, token := env.Workspace(t, "valid")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	ctx := t.Context()
	tests := []struct {
		name  string
		req   *chatsyncv1.SyncBatchRequest
		code  connect.Code
		field string
	}{
		{"session_id not an ID", emptyBatch("abc", "b"), connect.CodeInvalidArgument, "session_id"},
		{"batch_id with a space", emptyBatch(a.id, "b 1"), connect.CodeInvalidArgument, "batch_id"},
		{"batch_id of 65", emptyBatch(a.id, strings.Repeat("b", 65)), connect.CodeInvalidArgument, "batch_id"},
		{"empty batch_id", emptyBatch(a.id, ""), connect.CodeInvalidArgument, "batch_id"},
		{"no kind", &chatsyncv1.SyncBatchRequest{SessionId: a.id, BatchId: "b"}, connect.CodeInvalidArgument, "kind"},
		{"501 chats", func() *chatsyncv1.SyncBatchRequest {
			r := emptyBatch(a.id, "b")
			for i := range 501 {
				r.Chats = append(r.Chats, privateSync(i))
			}
			return r
		}(), connect.CodeInvalidArgument, "chats"},
		{"over 8 MiB", bigBatch(a.id, chatsync.MaxBatchBytes+1), connect.CodeInvalidArgument, "8 MiB"},
		{"over the read limit", bigBatch(a.id, chatsync.MaxBatchBytes+1<<20+1), connect.CodeResourceExhausted, ""},
		{"unknown session", emptyBatch("999999", "b"), connect.CodeNotFound, "session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.Sync.SyncBatch(ctx, tt.req)
			if connect.CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want %v naming %q", err, tt.code, tt.field)
			}
			if n := rowCounts(t, env)[0]; n != 0 {
				t.Fatalf("%d batches stored", n)
			}
		})
	}
	t.Run("signed, over the read limit", func(t *testing.T) {
		signed := syncClient(env, &client.Transport{Base: env.HTTP.Transport, SessionID: a.id, Secret: a.secret}, nil)
		_, err := signed.SyncBatch(ctx, bigBatch(a.id, chatsync.MaxBatchBytes+1<<20+1))
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Fatalf("err = %v, want resource_exhausted", err)
		}
	})
}

// Item problems reject those chats only, with index, JID and reason; the
// valid rest is stored and queued.
func TestSyncBatchRejectsBadChats(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	ws, token := env.Workspace(t, "items")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	ctx := t.Context()

	badMsg := privateSync(4)
	badMsg.Messages = []*chatsyncv1.SyncMessage{{Id: "m1", Timestamp: timestamppb.New(time.Unix(1_000_000, 0))}}
	groupAsPrivate := privateSync(3)
	groupAsPrivate.Jid = "120363000000000001@g.us"
	noJID := privateSync(2)
	noJID.Jid = "nope"
	nul := privateSync(6)
	nul.Name = new("Ali\x00ce")
	unknownMedia := privateSync(7)
	unknownMedia.Messages = []*chatsyncv1.SyncMessage{{Id: "m7", Timestamp: timestamppb.Now(), MediaType: chatsyncv1.MediaType(42)}}
	req := emptyBatch(a.id, "items")
	req.Kind = chatsyncv1.BatchKind_BATCH_KIND_HISTORY
	req.Chats = []*chatsyncv1.SyncChat{privateSync(1), noJID, groupAsPrivate, badMsg, privateSync(5), nul, unknownMedia}
	res, err := api.Sync.SyncBatch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetAcceptedCount() != 2 || res.GetStatus() != chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED || res.GetDuplicate() || res.GetBatchId() != "items" {
		t.Fatalf("response = %v", res)
	}
	want := []struct {
		index  int32
		jid    string
		reason string
	}{{1, "nope", "jid"}, {2, "120363000000000001@g.us", "type"}, {3, badMsg.GetJid(), "messages[0].timestamp"},
		{5, nul.GetJid(), "name: contains a NUL"}, {6, unknownMedia.GetJid(), "messages[0].media_type"}}
	rej := res.GetRejected()
	if len(rej) != len(want) {
		t.Fatalf("rejected = %v", rej)
	}
	for i, w := range want {
		if rej[i].GetIndex() != w.index || rej[i].GetJid() != w.jid || !strings.HasPrefix(rej[i].GetReason(), w.reason) {
			t.Fatalf("rejected[%d] = %v, want index %d, jid %s, reason %s…", i, rej[i], w.index, w.jid, w.reason)
		}
	}
	b, err := env.Store.Batch(ctx, ws, mustParse(t, a.id), "items")
	if err != nil {
		t.Fatal(err)
	}
	if b.AcceptedCount != 2 || len(b.Rejected) != 5 || b.Kind != chatsync.BatchHistory || b.Status != chatsync.BatchQueued {
		t.Fatalf("stored batch = %+v", b)
	}
	if n := queued(t, env, tasks.QueueBackfill); n != 1 {
		t.Fatalf("%d backfill tasks queued, want 1", n)
	}
}

// The same batch ID again answers the original result with duplicate=true
// and queues nothing new, whatever the second body holds.
func TestSyncBatchDuplicate(t *testing.T) {
	var logs syncBuffer
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	ws, token := env.Workspace(t, "dup")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	ctx := t.Context()

	first := emptyBatch(a.id, "b1")
	first.Chats = []*chatsyncv1.SyncChat{privateSync(1), {Jid: "bad"}}
	res1, err := api.Sync.SyncBatch(ctx, first)
	if err != nil || res1.GetDuplicate() {
		t.Fatalf("first = %v, %v", res1, err)
	}
	if n := queued(t, env, tasks.QueueLive); n != 1 {
		t.Fatalf("%d live tasks after the first call", n)
	}
	for _, p := range servertest.Protocols {
		t.Run(p.Name, func(t *testing.T) {
			again := emptyBatch(a.id, "b1")
			again.Chats = []*chatsyncv1.SyncChat{privateSync(1), privateSync(2), privateSync(3)}
			res, err := env.Clients(token, p.Opts...).Sync.SyncBatch(ctx, again)
			if err != nil {
				t.Fatal(err)
			}
			if !res.GetDuplicate() || res.GetAcceptedCount() != 1 || len(res.GetRejected()) != 1 ||
				res.GetRejected()[0].GetJid() != "bad" || res.GetStatus() != chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED {
				t.Fatalf("duplicate answer = %v, want the original (1 accepted, 1 rejected) with duplicate", res)
			}
			if n := queued(t, env, tasks.QueueLive); n != 1 {
				t.Fatalf("%d live tasks after a duplicate, want 1", n)
			}
			if n := rowCounts(t, env)[0]; n != 1 {
				t.Fatalf("%d batches stored", n)
			}
		})
	}
	got, err := api.Sync.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: a.id, BatchId: "b1"})
	if err != nil {
		t.Fatal(err)
	}
	if b := got.GetBatch(); b.GetAcceptedCount() != 1 || b.GetRejectedCount() != 1 || b.GetStatus() != chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED ||
		b.GetKind() != chatsyncv1.BatchKind_BATCH_KIND_LIVE || b.GetCreateTime() == nil || b.GetSessionId() != a.id {
		t.Fatalf("GetSyncBatch = %v", b)
	}
	for _, tc := range []struct{ session, batch string }{{a.id, "nope"}, {"999999", "b1"}} {
		if _, err := api.Sync.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: tc.session, BatchId: tc.batch}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("GetSyncBatch(%s, %s) = %v, want not_found", tc.session, tc.batch, err)
		}
	}

	// One "batch accepted" line, for the first call, with the batch's ids.
	var accepted []map[string]any
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "batch accepted" {
			accepted = append(accepted, rec)
		}
	}
	if len(accepted) != 1 {
		t.Fatalf("batch accepted lines: %v", accepted)
	}
	l := accepted[0]
	if l["workspace_id"] != float64(ws) || l["session_id"] != float64(mustParse(t, a.id)) || l["batch_id"] != "b1" ||
		l["accepted"] != float64(1) || l["rejected"] != float64(1) || l["kind"] != "live" {
		t.Fatalf("batch accepted line = %v", l)
	}
}

// CHATSYNC_SYNC_ENABLED=false: SyncBatch answers unavailable, signed or
// not, and stores nothing; reads keep working.
func TestSyncKillSwitch(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.SyncEnabled = false }})
	ws, token := env.Workspace(t, "off")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	ctx := t.Context()
	signed := syncClient(env, &client.Transport{Base: env.HTTP.Transport, SessionID: a.id, Secret: a.secret}, nil)
	for name, c := range map[string]interface {
		SyncBatch(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error)
	}{"token": api.Sync, "signed": signed} {
		t.Run(name, func(t *testing.T) {
			_, err := c.SyncBatch(ctx, oneChatBatch(a.id, "b-"+name))
			if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "CHATSYNC_SYNC_ENABLED") {
				t.Fatalf("err = %v, want unavailable", err)
			}
		})
	}
	if n := rowCounts(t, env)[0]; n != 0 {
		t.Fatalf("%d batches stored", n)
	}
	if _, err := env.Store.WriteChunk(ctx, ws, mustParse(t, a.id), []chatsync.ChatInput{privateChat(1, t0, 0)}, nil); err != nil {
		t.Fatal(err)
	}
	list, err := api.Chat.ListChats(ctx, &chatsyncv1.ListChatsRequest{})
	if err != nil || len(list.GetChats()) != 1 {
		t.Fatalf("ListChats with sync off = %v, %v", list, err)
	}
	if _, err := api.Session.GetSession(ctx, &chatsyncv1.GetSessionRequest{SessionId: a.id}); err != nil {
		t.Fatalf("GetSession with sync off: %v", err)
	}
	if _, err := api.Sync.GetSyncBatch(ctx, &chatsyncv1.GetSyncBatchRequest{SessionId: a.id, BatchId: "x"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("GetSyncBatch with sync off: %v, want not_found (it still answers)", err)
	}
}

// The batch is committed before SyncBatch answers: when the enqueue after
// the commit fails (Redis down), the call still succeeds, the batch is
// stored for the sweeper, and the failure is logged with the batch.
func TestSyncBatchSurvivesAFailedEnqueue(t *testing.T) {
	var logs syncBuffer
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { dead.Close() })
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Tune: func(p *server.Params) {
		p.Queue = asynq.NewClientFromRedisClient(dead)
	}})
	ws, token := env.Workspace(t, "enqueue")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	res, err := api.Sync.SyncBatch(t.Context(), oneChatBatch(a.id, "b1"))
	if err != nil || res.GetAcceptedCount() != 1 {
		t.Fatalf("SyncBatch = %v, %v", res, err)
	}
	if b, err := env.Store.Batch(t.Context(), ws, mustParse(t, a.id), "b1"); err != nil || b.Status != chatsync.BatchQueued {
		t.Fatalf("stored batch = %+v, %v", b, err)
	}
	if !strings.Contains(logs.String(), `"msg":"enqueue accepted batch; the sweeper will retry"`) || !strings.Contains(logs.String(), `"batch_id":"b1"`) {
		t.Fatalf("no warning about the enqueue:\n%s", logs.String())
	}
}

// A rejected chat's value is echoed (and stored) bounded: seven chats with
// 1 MB JIDs cost a few hundred bytes of answer, not 7 MB.
func TestRejectionsEchoBoundedValues(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	ws, token := env.Workspace(t, "echo")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	req := emptyBatch(a.id, "huge-jids")
	for i := range 7 {
		c := privateSync(i)
		c.Jid = strings.Repeat(fmt.Sprint(i), 1<<20) + "é@s.whatsapp.net"
		req.Chats = append(req.Chats, c)
	}
	res, err := api.Sync.SyncBatch(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetRejected()) != 7 {
		t.Fatalf("rejected %d, want 7", len(res.GetRejected()))
	}
	for _, r := range res.GetRejected() {
		if len(r.GetJid()) > 128 || !utf8.ValidString(r.GetJid()) || !strings.HasSuffix(r.GetJid(), "…") || len(r.GetReason()) > 256 {
			t.Fatalf("rejection echoes %d bytes of JID (%q…) and %d of reason", len(r.GetJid()), r.GetJid()[:16], len(r.GetReason()))
		}
	}
	if n := proto.Size(res); n > 4096 {
		t.Fatalf("answer of %d bytes", n)
	}
	b, err := env.Store.Batch(t.Context(), ws, mustParse(t, a.id), "huge-jids")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range b.Rejected {
		if len(r.JID) > 128 {
			t.Fatalf("stored rejection holds %d bytes of JID", len(r.JID))
		}
	}
}

// A bad entry of contacts[] is rejected alone, like a bad chat: the
// answer names it, the rest of the batch (its other contacts and its
// chats) is stored; a duplicate call answers the same rejections.
func TestSyncBatchRejectsBadContacts(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	ws, token := env.Workspace(t, "contacts")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	req := emptyBatch(a.id, "contacts")
	req.Chats = []*chatsyncv1.SyncChat{privateSync(1)}
	req.Contacts = []*chatsyncv1.SyncContact{
		{Jid: "6281200000001@s.whatsapp.net", PushName: "Ann"}, {Jid: "not-a-jid"},
		{Jid: "6281200000003@s.whatsapp.net", Phone: "call me"}, {Jid: "6281200000004@s.whatsapp.net"},
	}
	for _, call := range []string{"first", "duplicate"} {
		res, err := api.Sync.SyncBatch(t.Context(), req)
		if err != nil {
			t.Fatalf("%s call: %v", call, err)
		}
		rc := res.GetRejectedContacts()
		if res.GetAcceptedCount() != 1 || len(res.GetRejected()) != 0 || len(rc) != 2 ||
			rc[0].GetIndex() != 1 || !strings.HasPrefix(rc[0].GetReason(), "contacts[1].jid") ||
			rc[1].GetIndex() != 2 || rc[1].GetJid() != "6281200000003@s.whatsapp.net" || !strings.HasPrefix(rc[1].GetReason(), "contacts[2].phone") {
			t.Fatalf("%s call answered %v", call, res)
		}
	}
	b, err := env.Store.Batch(t.Context(), ws, mustParse(t, a.id), "contacts")
	if err != nil {
		t.Fatal(err)
	}
	got, err := api.Sync.GetSyncBatch(t.Context(), &chatsyncv1.GetSyncBatchRequest{SessionId: a.id, BatchId: "contacts"})
	if err != nil || got.GetBatch().GetRejectedCount() != 0 || b.AcceptedCount != 1 {
		t.Fatalf("batch %+v / %v, %v: contacts are not counted as rejected chats", b, got, err)
	}
}
