package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/client"
	evpkg "github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/provider/wa"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/store"
)

// waEnv is a server with whatsmeow on: a wa.Manager on the test's store,
// device store and Redis, reaching WhatsApp through tr.
type waEnv struct {
	*servertest.Env
	devices *sqlstore.Container
	cancel  context.CancelFunc
	done    chan struct{}
	resp    *wa.Responder
}

func newWAEnv(t *testing.T, tr wa.Transport, tune func(*server.Params)) *waEnv {
	t.Helper()
	e := &waEnv{}
	e.Env = servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) {
		devices, err := wa.OpenContainer(context.Background(), p.Store.DB().DB, wa.DialectPostgres, quiet())
		if err != nil {
			t.Fatal(err)
		}
		e.devices = devices
		sink := wa.NewSink(p.Store, p.Queue, evpkg.NewPublisher(p.Redis, 0), quiet())
		m, err := wa.NewManager(wa.ManagerParams{Store: p.Store, Devices: devices, Redis: p.Redis, Sink: sink, Log: quiet(), Transport: tr, CallTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p.WhatsApp = m
		p.WakeSessions = func(ctx context.Context) error { return wa.Wake(ctx, p.Redis) }
		p.SendTimeout = 3 * time.Second
		if tune != nil {
			tune(p)
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	e.resp = wa.NewResponder(ctx, e.Redis, quiet())
	go func() { defer close(e.done); e.resp.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-e.done })
	return e
}

// owner plays the worker that runs a session: it answers the requests
// other processes send it with answer, and records them.
type owner struct {
	mu   sync.Mutex
	reqs []wa.Request
}

func (o *owner) requests() []wa.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]wa.Request(nil), o.reqs...)
}

func (e *waEnv) own(t *testing.T, sessionID int64, answer func(wa.Request) wa.Response) *owner {
	t.Helper()
	o := &owner{}
	err := e.resp.Serve(t.Context(), sessionID, func(_ context.Context, req wa.Request) wa.Response {
		o.mu.Lock()
		o.reqs = append(o.reqs, req)
		o.mu.Unlock()
		return answer(req)
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// linkDevice stores a paired device for a session, as pairing leaves it.
func (e *waEnv) linkDevice(t *testing.T, sessionID int64, deviceJID string) {
	t.Helper()
	dev := e.devices.NewDevice()
	jid, err := types.ParseJID(deviceJID)
	if err != nil {
		t.Fatal(err)
	}
	dev.ID = &jid
	dev.Account = testAccount()
	if err := dev.Save(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Store.SetDeviceJID(t.Context(), sessionID, deviceJID); err != nil {
		t.Fatal(err)
	}
}

func testAccount() *waAdv.ADVSignedDeviceIdentity {
	return &waAdv.ADVSignedDeviceIdentity{
		Details: []byte("details"), AccountSignature: make([]byte, 64), AccountSignatureKey: make([]byte, 32), DeviceSignature: make([]byte, 64),
	}
}

// fakeWhatsApp plays WhatsApp's servers through whatsmeow's event
// boundary: on Connect it answers with QR codes, as the servers do for an
// unpaired client, and hands the client to the test.
type fakeWhatsApp struct {
	codes   []string
	clients chan *whatsmeow.Client
}

func newFakeWhatsApp(codes ...string) *fakeWhatsApp {
	return &fakeWhatsApp{codes: codes, clients: make(chan *whatsmeow.Client, 8)}
}

func (f *fakeWhatsApp) Connect(cli *whatsmeow.Client) error {
	dispatch(cli, &events.QR{Codes: f.codes})
	f.clients <- cli
	return nil
}

func (f *fakeWhatsApp) PairPhone(_ context.Context, _ *whatsmeow.Client, phone string) (string, error) {
	return "ABCD-EFGH", nil
}

func (f *fakeWhatsApp) client(t *testing.T) *whatsmeow.Client {
	t.Helper()
	select {
	case cli := <-f.clients:
		return cli
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for the pairing client to connect")
	}
	return nil
}

// phoneLinks plays the phone confirming the pairing: whatsmeow stores the
// device identity, then dispatches PairSuccess.
func phoneLinks(t *testing.T, cli *whatsmeow.Client, deviceJID, pushName string) {
	t.Helper()
	jid, err := types.ParseJID(deviceJID)
	if err != nil {
		t.Fatal(err)
	}
	cli.Store.ID = &jid
	cli.Store.PushName = pushName
	cli.Store.Account = testAccount()
	if err := cli.Store.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	dispatch(cli, &events.PairSuccess{ID: jid, Platform: "android"})
}

func dispatch(cli *whatsmeow.Client, evt any) {
	//lint:ignore SA1019 the only way to inject an event without a socket
	cli.DangerousInternals().DispatchEvent(evt) //nolint:staticcheck // as above
}

// signedSync is a SyncService client signing as a session's sidecar.
func signedSync(env *servertest.Env, sess chatsync.Session, opts ...connect.ClientOption) chatsyncv1connect.SyncServiceClient {
	return signedWith(env, sess, env.Keys.SidecarSecret(sess.ID, []byte("nonce")), opts...)
}

// signedWith signs with a given secret.
func signedWith(env *servertest.Env, sess chatsync.Session, secret string, opts ...connect.ClientOption) chatsyncv1connect.SyncServiceClient {
	hc := &http.Client{Transport: &client.Transport{Base: env.HTTP.Transport, SessionID: strconv.FormatInt(sess.ID, 10), Secret: secret}}
	return chatsyncv1connect.NewSyncServiceClient(hc, env.URL, opts...)
}

// publishedEvents reads a workspace's events from its Redis stream.
func publishedEvents(t *testing.T, env *servertest.Env, ws int64) []chatsync.Event {
	t.Helper()
	msgs, err := env.Redis.XRange(t.Context(), "chatsync:events:{"+strconv.FormatInt(ws, 10)+"}", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]chatsync.Event, 0, len(msgs))
	for _, m := range msgs {
		var ev chatsync.Event
		if err := json.Unmarshal([]byte(m.Values["e"].(string)), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// waitUntil polls cond until it holds or a deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func sessionStatus(t *testing.T, env *servertest.Env, id int64) chatsync.Session {
	t.Helper()
	s, err := env.Store.SessionByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setBackup(t *testing.T, env *servertest.Env, sess chatsync.Session) {
	t.Helper()
	yes := true
	if _, err := env.Store.UpdateSession(t.Context(), sess.WorkspaceID, sess.ID, store.SessionUpdate{Backup: &yes}); err != nil {
		t.Fatal(err)
	}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// devicesClient is an unconnected whatsmeow client on a new device.
func (e *waEnv) devicesClient(t *testing.T) *whatsmeow.Client {
	t.Helper()
	return whatsmeow.NewClient(e.devices.NewDevice(), nil)
}
