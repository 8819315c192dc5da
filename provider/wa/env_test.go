package wa

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/store/storetest"
)

// redisDB is this package's Redis database (flushed by each test that uses
// it; those tests do not run in parallel).
const redisDB = 6

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: redisDB})
	if err := rdb.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("redis is required (TEST_REDIS_ADDR=%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// env is chatsync's store on a fresh PostgreSQL schema with whatsmeow's
// device store beside it, a flushed Redis database and a real Sink.
type env struct {
	st      *store.Store
	devices *sqlstore.Container
	rdb     *redis.Client
	queue   *asynq.Client
	sink    *Sink
	ws      int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := storetest.Postgres(t)
	devices, err := OpenContainer(t.Context(), st.DB().DB, DialectPostgres, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	rdb := testRedis(t)
	queue := asynq.NewClientFromRedisClient(rdb)
	ws, _, err := st.EnsureWorkspace(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	return &env{
		st: st, devices: devices, rdb: rdb, queue: queue, ws: ws.ID,
		sink: NewSink(st, queue, events.NewPublisher(rdb, 100), discardLogger()),
	}
}

func (e *env) session(t *testing.T, name string) chatsync.Session {
	t.Helper()
	s, err := e.st.CreateSession(t.Context(), store.NewSession{WorkspaceID: e.ws, DisplayName: name, Provider: chatsync.ProviderWhatsmeow, SecretNonce: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pairedSession is a session linked to a device saved in the device store,
// as a successful pairing leaves it.
func (e *env) pairedSession(t *testing.T, name, deviceJID string) chatsync.Session {
	t.Helper()
	s := e.session(t, name)
	dev := e.devices.NewDevice()
	jid := mustJID(t, deviceJID)
	dev.ID = &jid
	dev.Account = testAccount()
	if err := dev.Save(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetDeviceJID(t.Context(), s.ID, deviceJID); err != nil {
		t.Fatal(err)
	}
	return s
}

// statusEvents reads the session_status events published so far.
func (e *env) statusEvents(t *testing.T) []chatsync.SessionStatusEvent {
	t.Helper()
	msgs, err := e.rdb.XRange(context.Background(), "chatsync:events:{"+strconv.FormatInt(e.ws, 10)+"}", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []chatsync.SessionStatusEvent
	for _, m := range msgs {
		var ev chatsync.Event
		if err := json.Unmarshal([]byte(m.Values["e"].(string)), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == chatsync.EventSessionStatus {
			out = append(out, *ev.Status)
		}
	}
	return out
}

// fakeWhatsApp is a Transport that plays WhatsApp's servers through the
// client's event boundary.
type fakeWhatsApp struct {
	ConnectFn   func(cli *whatsmeow.Client) error
	PairPhoneFn func(ctx context.Context, cli *whatsmeow.Client, phone string) (string, error)
}

func (f *fakeWhatsApp) Connect(cli *whatsmeow.Client) error { return f.ConnectFn(cli) }

func (f *fakeWhatsApp) PairPhone(ctx context.Context, cli *whatsmeow.Client, phone string) (string, error) {
	return f.PairPhoneFn(ctx, cli, phone)
}

// serverSays dispatches an event as whatsmeow does for a decoded node.
func serverSays(cli *whatsmeow.Client, evt any) {
	//lint:ignore SA1019 the only way to inject an event without a socket
	cli.DangerousInternals().DispatchEvent(evt) //nolint:staticcheck // as above
}

// clients records the clients a fake transport connected, in order.
type clients struct {
	mu   sync.Mutex
	list []*whatsmeow.Client
	ch   chan *whatsmeow.Client
}

func newClients() *clients { return &clients{ch: make(chan *whatsmeow.Client, 64)} }

func (c *clients) add(cli *whatsmeow.Client) {
	c.mu.Lock()
	c.list = append(c.list, cli)
	c.mu.Unlock()
	c.ch <- cli
}

func (c *clients) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.list)
}

func (c *clients) next(t *testing.T) *whatsmeow.Client {
	t.Helper()
	select {
	case cli := <-c.ch:
		return cli
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a client to connect")
	}
	return nil
}
