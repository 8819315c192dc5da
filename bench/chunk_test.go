package bench_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// BenchmarkWriteChunk measures the store's write path alone: the workload's
// chats written with store.IngestChunk, chunk by chunk, over one database
// connection from one goroutine (BENCH_WRITERS sets more of both). Besides chats/s it reports the CPU the
// PostgreSQL backend and this process spent per 1,000 chats, the figures
// that decide the end-to-end rate on a small machine.
func BenchmarkWriteChunk(b *testing.B) {
	n := envInt("BENCH_CHATS", 20000)
	writers := envInt("BENCH_WRITERS", 1)
	chats := syntheticChats(n, time.Now().UTC().Add(-time.Hour))
	for _, size := range []int{10, 50} {
		b.Run(fmt.Sprintf("chunk=%d/writers=%d", size, writers), func(b *testing.B) {
			var rate, pgMS, goMS float64
			runs := 0
			for b.Loop() {
				_, st := openStore(b)
				st.DB().DB.SetMaxOpenConns(writers)
				ctx := b.Context()
				ws, _, err := st.EnsureWorkspace(ctx, "bench")
				if err != nil {
					b.Fatal(err)
				}
				sess, err := st.CreateSession(ctx, store.NewSession{WorkspaceID: ws.ID, DisplayName: "bench", Provider: chatsync.ProviderWebJS, SecretNonce: []byte("n")})
				if err != nil {
					b.Fatal(err)
				}
				if writers == 1 {
					var pid int
					if err := st.DB().QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
						b.Fatal(err)
					}
					b.Logf("PostgreSQL backend pid %d", pid) // for perf report --pid
				}
				cpu := startCPU(b, st.DB().DB, nil)
				start := time.Now()
				next := make(chan int)
				var wg sync.WaitGroup
				for range writers {
					wg.Go(func() {
						for lo := range next {
							if _, err := st.IngestChunk(ctx, ws.ID, sess.ID, chats[lo:min(lo+size, len(chats))], nil); err != nil {
								b.Error(err)
							}
						}
					})
				}
				for lo := 0; lo < len(chats); lo += size {
					next <- lo
				}
				close(next)
				wg.Wait()
				took := time.Since(start)
				cpu.stop(b)
				rate += float64(n) / took.Seconds()
				pgMS += cpu.postgres * 1000 / float64(n) * 1000
				goMS += cpu.self * 1000 / float64(n) * 1000
				runs++
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(rate/float64(runs), "chats/s")
			b.ReportMetric(pgMS/float64(runs), "pg-cpu-ms/1k-chats")
			b.ReportMetric(goMS/float64(runs), "go-cpu-ms/1k-chats")
		})
	}
}

// syntheticChats is the workload's shape as domain input, validated: every
// fifth chat a group of five (+1 555 numbers, like the simulate package's),
// one message each.
func syntheticChats(n int, at time.Time) []chatsync.ChatInput {
	out := make([]chatsync.ChatInput, n)
	for i := range out {
		last := at.Add(-time.Duration(i) * time.Minute)
		msg := chatsync.MessageInput{ID: fmt.Sprintf("3EB0%08X", i), Timestamp: last, Text: "see you tomorrow"}
		c := chatsync.ChatInput{LastActivity: last, UnreadCount: new(int32(i % 4)), Messages: []chatsync.MessageInput{msg}}
		if i%5 == 4 {
			c.JID, c.Type, c.Name = fmt.Sprintf("120363%012d@g.us", i), chatsync.ChatGroup, fmt.Sprintf("Group %d", i)
			g := &chatsync.GroupInput{Subject: c.Name, Description: "synthetic group"}
			for k := range 5 {
				jid := fmt.Sprintf("1555%07d@s.whatsapp.net", (i*31+k*7919)%10_000_000)
				role := chatsync.RoleMember
				if k == 0 {
					role, g.OwnerJID = chatsync.RoleSuperAdmin, jid
				}
				g.Participants = append(g.Participants, chatsync.ParticipantInput{JID: jid, Phone: "+" + jid[:11], Role: role})
			}
			c.Group = g
			c.Messages[0].SenderJID = g.Participants[1].JID
		} else {
			c.JID, c.Type, c.Name = fmt.Sprintf("1555%07d@s.whatsapp.net", i), chatsync.ChatPrivate, fmt.Sprintf("Person %d", i)
			c.Contact = &chatsync.ContactInput{Phone: "+" + c.JID[:11], PushName: c.Name}
		}
		if err := c.Validate(time.Now()); err != nil {
			panic(err)
		}
		out[i] = c
	}
	return out
}
