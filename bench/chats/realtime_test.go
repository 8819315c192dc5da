package chats_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
	"github.com/chatsync/chatsync/worker"
	"github.com/chatsync/chatsync/worker/tasks"
)

// BenchmarkRealtime measures the latency from a worker's commit to a
// client's receipt with BENCH_SUBSCRIBERS (default 100; the recorded run
// uses 1,000) StreamChatUpdates streams open on one server process, each
// client on its own HTTP/2 connection. One iteration is one live batch (a
// chat with a message) processed by chatsync's worker, which publishes
// three events (chat_upserted, message_added, sync_progress) that every
// subscriber receives; the iteration ends when all have the last one. The
// latency of a subscriber is its receipt time of chat_upserted minus the
// event's time, which the worker stamps right after the chunk committed.
// It also reports messages delivered per second, CPU time per batch of the
// server process and of this one (worker and clients), and the server
// process's RSS idle and with the streams open.
func BenchmarkRealtime(b *testing.B) {
	subs := envInt("BENCH_SUBSCRIBERS", 100)
	rdb := flushRedis(b)
	dsn := storetest.PostgresURL(b)
	st := open(b, dsn)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	ws, _, err := st.EnsureWorkspace(ctx, "realtime")
	if err != nil {
		b.Fatal(err)
	}
	sess, err := st.CreateSession(ctx, store.NewSession{WorkspaceID: ws.ID, DisplayName: "live", Provider: chatsync.ProviderWebJS, SecretNonce: []byte("n")})
	if err != nil {
		b.Fatal(err)
	}
	token := fmt.Sprint("realtime-", time.Now().UnixNano())
	if _, err := st.CreateToken(ctx, ws.ID, "bench", token); err != nil {
		b.Fatal(err)
	}
	srv := startServer(b, dsn)
	idle := srv.rssMB(b)

	results := make(chan time.Duration, subs)
	settled := make(chan struct{}, subs)
	for i := range subs {
		c := chatsyncv1connect.NewChatServiceClient(h2c(), srv.URL, connect.WithInterceptors(bearer(token)))
		stream, err := c.StreamChatUpdates(ctx, &chatsyncv1.StreamChatUpdatesRequest{})
		if err != nil {
			b.Fatal(err)
		}
		// The first message is the heartbeat that says the subscription
		// is live.
		if !stream.Receive() || stream.Msg().GetHeartbeat() == nil {
			b.Fatalf("stream %d did not start: %v", i, stream.Err())
		}
		go func() {
			defer stream.Close()
			for stream.Receive() {
				switch m := stream.Msg(); {
				case m.GetChatUpserted() != nil:
					results <- time.Since(m.GetEventTime().AsTime())
				case m.GetSyncProgress() != nil:
					settled <- struct{}{}
				}
			}
		}()
	}
	streams := srv.rssMB(b)

	proc, err := worker.NewProcessor(worker.Params{
		Store: st, Publisher: events.NewPublisher(rdb, events.DefaultRetention), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 64*subs)
	i := 0
	srvCPU, ownCPU := srv.cpu(b), selfCPU()
	for b.Loop() {
		i++
		now := time.Now().UTC()
		chat := chatsync.ChatInput{
			JID: fmt.Sprintf("62812%07d@s.whatsapp.net", i%1000), Type: chatsync.ChatPrivate, LastActivity: now, UnreadCount: new(int32(1)),
			Messages: []chatsync.MessageInput{{ID: fmt.Sprint("m", i), Timestamp: now, Text: "hello"}},
		}
		bt, _, err := st.AcceptBatch(ctx, store.NewBatch{
			WorkspaceID: ws.ID, SessionID: sess.ID, BatchID: fmt.Sprintf("rt-%d-%d", i, now.UnixNano()), Kind: chatsync.BatchLive,
			Payload: chatsync.BatchPayload{Chats: []chatsync.ChatInput{chat}},
		})
		if err != nil {
			b.Fatal(err)
		}
		task, err := tasks.NewSyncBatchTask(bt.ID, bt.Kind)
		if err != nil {
			b.Fatal(err)
		}
		if err := proc.HandleSyncBatch(ctx, task); err != nil {
			b.Fatal(err)
		}
		// The iteration ends when every subscriber has the batch's last
		// event (sync_progress): the next commit does not queue behind
		// this one's sends, so each sample is one fan-out's latency.
		timeout := time.After(30 * time.Second)
		for range subs {
			select {
			case d := <-results:
				lat = append(lat, d)
			case <-timeout:
				b.Fatalf("iteration %d: %d of %d subscribers got the chat event", i, len(lat)%subs, subs)
			}
		}
		for n := range subs {
			select {
			case <-settled:
			case <-timeout:
				b.Fatalf("iteration %d: %d of %d subscribers got sync_progress", i, n, subs)
			}
		}
	}
	b.ReportMetric(float64(3*subs*b.N)/b.Elapsed().Seconds(), "msgs/s")
	// CPU per batch: the server process's, and this one's (the worker and
	// the clients), to tell a slow design from a busy machine.
	b.ReportMetric(float64(srv.cpu(b)-srvCPU)/float64(time.Millisecond)/float64(b.N), "server-cpu-ms/op")
	b.ReportMetric(float64(selfCPU()-ownCPU)/float64(time.Millisecond)/float64(b.N), "client-cpu-ms/op")
	b.ReportMetric(float64(subs), "streams")
	b.ReportMetric(idle, "rss-idle-MiB")
	b.ReportMetric(max(streams, srv.rssMB(b)), "rss-MiB")
	percentiles(b, lat)
}
