package wa

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker/tasks"
)

func TestLeases(t *testing.T) {
	rdb := testRedis(t)
	ctx := t.Context()
	a := NewLeases(rdb, "a", time.Minute)
	b := NewLeases(rdb, "b", time.Minute)
	step := func(what string, got bool, err error, want bool) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %v, %v; want %v", what, got, err, want)
		}
	}
	ok, err := a.Acquire(ctx, 1)
	step("a acquires", ok, err, true)
	ok, err = a.Acquire(ctx, 1)
	step("a acquires again", ok, err, true)
	ok, err = b.Acquire(ctx, 1)
	step("b acquires a's lease", ok, err, false)
	ok, err = b.Renew(ctx, 1)
	step("b renews a's lease", ok, err, false)
	if err := b.Release(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if h, _ := Holder(ctx, rdb, 1); h != "a" {
		t.Fatalf("after b's release the holder is %q, want a", h)
	}
	ok, err = a.Renew(ctx, 1)
	step("a renews", ok, err, true)
	if err := a.Release(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if h, _ := Holder(ctx, rdb, 1); h != "" {
		t.Fatalf("holder after release = %q", h)
	}
	ok, err = b.Acquire(ctx, 1)
	step("b acquires the released lease", ok, err, true)
	if x1, x2 := NewOwnerID("x"), NewOwnerID("x"); !strings.HasPrefix(NewOwnerID("worker"), "worker-") || x1 == x2 {
		t.Error("owner IDs are not prefixed and random")
	}
}

func TestCallAndResponder(t *testing.T) {
	rdb := testRedis(t)
	ctx, cancel := context.WithCancel(t.Context())
	r := NewResponder(ctx, rdb, discardLogger())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if _, err := Call(ctx, rdb, Request{SessionID: 7, Kind: RequestSend}, time.Second); !errors.Is(err, ErrNoOwner) {
		t.Fatalf("Call without an owner = %v, want ErrNoOwner", err)
	}
	block := make(chan struct{})
	err := r.Serve(ctx, 7, func(_ context.Context, req Request) Response {
		switch req.Text {
		case "slow":
			<-block
			return Response{}
		case "fail":
			return Response{Error: "refused"}
		}
		return Response{MessageID: "id-for-" + req.ChatJID + "-" + string(req.Kind)}
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := Call(ctx, rdb, Request{SessionID: 7, Kind: RequestSend, ChatJID: "123@s.whatsapp.net"}, time.Second)
	if err != nil || resp.MessageID != "id-for-123@s.whatsapp.net-send" {
		t.Fatalf("Call = %+v, %v", resp, err)
	}
	if resp, _ := Call(ctx, rdb, Request{SessionID: 7, Kind: RequestSend, Text: "fail"}, time.Second); resp.Error != "refused" {
		t.Errorf("error response = %+v", resp)
	}
	if _, err := Call(ctx, rdb, Request{SessionID: 7, Kind: RequestSend, Text: "slow"}, time.Second); !errors.Is(err, ErrNoAnswer) {
		t.Errorf("Call to a slow owner = %v, want ErrNoAnswer", err)
	}
	close(block)
	r.Stop(ctx, 7)
	if _, err := Call(ctx, rdb, Request{SessionID: 7, Kind: RequestSend}, time.Second); !errors.Is(err, ErrNoOwner) {
		t.Errorf("Call after Stop = %v, want ErrNoOwner", err)
	}
}

func TestSink(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	s := e.session(t, "Phone")
	p := chatsync.BatchPayload{Contacts: []chatsync.ContactInput{{JID: "15551234567@s.whatsapp.net", PushName: "Ann"}}}
	if err := e.sink.SubmitBatch(ctx, s.ID, chatsync.BatchLive, "wa:pn:1", p); err != nil {
		t.Fatal(err)
	}
	if err := e.sink.SubmitBatch(ctx, s.ID, chatsync.BatchLive, "wa:pn:1", p); err != nil {
		t.Fatalf("a batch ID seen before: %v", err)
	}
	b, err := e.st.Batch(ctx, e.ws, s.ID, "wa:pn:1")
	if err != nil || b.Status != chatsync.BatchQueued || b.Kind != chatsync.BatchLive {
		t.Fatalf("batch = %+v, %v", b, err)
	}
	info, err := asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueLive, "batch:"+itoa(int(b.ID)))
	if err != nil || info.Type != tasks.TypeSyncBatch {
		t.Fatalf("queued task = %+v, %v", info, err)
	}
	if err := e.sink.SubmitBatch(ctx, s.ID+100, chatsync.BatchLive, "x", p); err == nil {
		t.Error("batch of an unknown session accepted")
	}

	ban := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := e.sink.SetStatus(ctx, s.ID, chatsync.SessionBanned, "temporary ban", ban); err != nil {
		t.Fatal(err)
	}
	if err := e.sink.SetPaired(ctx, s.ID, chatsync.SessionDisconnected, "paired", "15550001111@s.whatsapp.net", "Front desk"); err != nil {
		t.Fatal(err)
	}
	got, _ := e.st.SessionByID(ctx, s.ID)
	if got.Status != chatsync.SessionDisconnected || got.JID != "15550001111@s.whatsapp.net" || got.PushName != "Front desk" {
		t.Errorf("session after SetPaired = %+v", got)
	}
	want := []chatsync.SessionStatusEvent{{Status: chatsync.SessionBanned, Reason: "temporary ban"}, {Status: chatsync.SessionDisconnected, Reason: "paired"}}
	if evs := e.statusEvents(t); !slices.Equal(evs, want) {
		t.Errorf("events = %+v, want %+v", evs, want)
	}
}

// supervise runs a supervisor until the test ends.
func supervise(t *testing.T, e *env, tr Transport, tune func(*SupervisorParams)) *Supervisor {
	t.Helper()
	p := SupervisorParams{
		Store: e.st, Devices: e.devices, Redis: e.rdb, Sink: e.sink, Log: discardLogger(), Transport: tr,
		Poll: time.Hour, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, LeaseTTL: 3 * time.Second,
	}
	if tune != nil {
		tune(&p)
	}
	sup, err := NewSupervisor(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("supervisor: %v", err)
		}
	})
	return sup
}

func TestSupervisorBacksOffAndReportsDisconnected(t *testing.T) {
	e := newEnv(t)
	s := e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	conns := newClients()
	tr := &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
		conns.add(cli)
		return errors.New("dial tcp: connection refused")
	}}
	supervise(t, e, tr, nil)
	waitFor(t, "five connect attempts", func() bool { return conns.count() >= 5 })
	waitFor(t, "four disconnected reports", func() bool { return len(e.statusEvents(t)) >= 4 })
	var reasons []string
	for _, ev := range e.statusEvents(t)[:4] {
		if ev.Status != chatsync.SessionDisconnected {
			t.Fatalf("status %s, want disconnected", ev.Status)
		}
		reasons = append(reasons, strings.SplitN(ev.Reason, ":", 2)[0])
	}
	// The wait doubles from MinBackoff and stays at MaxBackoff.
	want := []string{"reconnecting in 10ms", "reconnecting in 20ms", "reconnecting in 40ms", "reconnecting in 40ms"}
	if !slices.Equal(reasons, want) {
		t.Errorf("reasons = %q, want %q", reasons, want)
	}
	if got, _ := e.st.SessionByID(t.Context(), s.ID); got.Status != chatsync.SessionDisconnected {
		t.Errorf("session status %s, want disconnected", got.Status)
	}
}

// TestSupervisorBackoffResetsAfterAHealthyConnection: three failed connects
// double the wait; a connection that then holds longer than HealthyAfter
// and drops starts the backoff over, as does every healthy one after.
func TestSupervisorBackoffResetsAfterAHealthyConnection(t *testing.T) {
	e := newEnv(t)
	e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	var attempts atomic.Int32
	tr := &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
		if attempts.Add(1) != 4 {
			return errors.New("dial tcp: connection refused")
		}
		// The fourth attempt connects; with no socket it reads as offline,
		// so the watchdog ends it after two checks (60 ms: healthy).
		serverSays(cli, &events.Connected{})
		return nil
	}}
	supervise(t, e, tr, func(p *SupervisorParams) {
		p.Watchdog = 30 * time.Millisecond
		p.HealthyAfter = 20 * time.Millisecond
	})
	waitFor(t, "five disconnected reports", func() bool { return len(disconnectReasons(t, e)) >= 5 })
	got := disconnectReasons(t, e)[:5]
	want := []string{"reconnecting in 10ms", "reconnecting in 20ms", "reconnecting in 40ms", "reconnecting in 10ms", "reconnecting in 20ms"}
	if !slices.Equal(got, want) {
		t.Errorf("reasons = %q, want %q (the wait starts over after the healthy connection)", got, want)
	}
}

// disconnectReasons lists the waits of the "reconnecting in" reports.
func disconnectReasons(t *testing.T, e *env) []string {
	t.Helper()
	var out []string
	for _, ev := range e.statusEvents(t) {
		if ev.Status == chatsync.SessionDisconnected && strings.HasPrefix(ev.Reason, "reconnecting in") {
			out = append(out, strings.SplitN(ev.Reason, ":", 2)[0])
		}
	}
	return out
}

func TestSupervisorLeaseKeepsOtherWorkersOff(t *testing.T) {
	e := newEnv(t)
	s := e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	connectOK := func(conns *clients) *fakeWhatsApp {
		return &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
			conns.add(cli)
			serverSays(cli, &events.Connected{})
			return nil
		}}
	}
	ctx := t.Context()
	ca, cb := newClients(), newClients()
	a, err := NewSupervisor(SupervisorParams{Store: e.st, Devices: e.devices, Redis: e.rdb, Sink: e.sink, Log: discardLogger(), Transport: connectOK(ca), Owner: "worker-a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSupervisor(SupervisorParams{Store: e.st, Devices: e.devices, Redis: e.rdb, Sink: e.sink, Log: discardLogger(), Transport: connectOK(cb), Owner: "worker-b"})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	resp := NewResponder(rctx, e.rdb, discardLogger())
	respDone := make(chan struct{})
	go func() { defer close(respDone); resp.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		a.wg.Wait()
		b.wg.Wait()
		<-respDone
	})

	aCtx, stopA := context.WithCancel(rctx)
	if err := a.reconcile(aCtx, resp); err != nil {
		t.Fatal(err)
	}
	ca.next(t)
	waitFor(t, "connected status", func() bool {
		got, _ := e.st.SessionByID(ctx, s.ID)
		return got.Status == chatsync.SessionConnected
	})
	if h, _ := Holder(ctx, e.rdb, s.ID); h != "worker-a" {
		t.Fatalf("lease holder %q, want worker-a", h)
	}
	if err := b.reconcile(rctx, resp); err != nil {
		t.Fatal(err)
	}
	if len(b.Running()) != 0 || cb.count() != 0 {
		t.Fatalf("worker b runs %v and connected %d times while a holds the lease", b.Running(), cb.count())
	}
	if got := a.Running(); !slices.Equal(got, []int64{s.ID}) {
		t.Fatalf("worker a runs %v", got)
	}

	// a stops: its lease is released and b takes the session over.
	stopA()
	waitFor(t, "a to release the lease", func() bool { h, _ := Holder(ctx, e.rdb, s.ID); return h == "" })
	if err := b.reconcile(rctx, resp); err != nil {
		t.Fatal(err)
	}
	cb.next(t)
	if h, _ := Holder(ctx, e.rdb, s.ID); h != "worker-b" {
		t.Errorf("lease holder %q, want worker-b", h)
	}
}

func TestSupervisorStatusEvents(t *testing.T) {
	e := newEnv(t)
	s := e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	conns := newClients()
	tr := &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
		conns.add(cli)
		serverSays(cli, &events.Connected{})
		return nil
	}}
	sup := supervise(t, e, tr, nil)
	mgr, err := NewManager(ManagerParams{Store: e.st, Devices: e.devices, Redis: e.rdb, Sink: e.sink, Log: discardLogger(), CallTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	status := func() chatsync.Session { got, _ := e.st.SessionByID(ctx, s.ID); return got }

	cli := conns.next(t)
	waitFor(t, "connected", func() bool { return status().Status == chatsync.SessionConnected })
	// The fake server said Connected, but no socket is open: the owner
	// answers that it is offline rather than pretending to send.
	if _, err := mgr.Send(ctx, s.ID, "15551234567@s.whatsapp.net", "hi"); !errors.Is(err, ErrOffline) {
		t.Errorf("Send through an unconnected owner = %v, want ErrOffline", err)
	}
	if err := mgr.RequestHistory(ctx, s.ID, []Anchor{{ChatJID: "15551234567@s.whatsapp.net", MessageID: "A"}}, 0); !errors.Is(err, ErrOffline) {
		t.Errorf("RequestHistory through an unconnected owner = %v, want ErrOffline", err)
	}

	// seen counts the events of a status published so far.
	seen := func(st chatsync.SessionStatus) int {
		n := 0
		for _, ev := range e.statusEvents(t) {
			if ev.Status == st {
				n++
			}
		}
		return n
	}
	// A temporary ban stops the connection until it expires.
	serverSays(cli, &events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: 20 * time.Millisecond})
	waitFor(t, "banned", func() bool { return seen(chatsync.SessionBanned) == 1 })
	cli = conns.next(t) // reconnected after the ban
	waitFor(t, "connected again", func() bool { return seen(chatsync.SessionConnected) == 2 })
	// Another client took the stream: reconnect only after MaxBackoff.
	serverSays(cli, &events.StreamReplaced{})
	waitFor(t, "stream replaced", func() bool { return seen(chatsync.SessionStreamReplaced) == 1 })
	cli = conns.next(t)
	waitFor(t, "connected once more", func() bool { return seen(chatsync.SessionConnected) == 3 })
	// Logged out from the phone: the runner ends and the device is unlinked.
	serverSays(cli, &events.LoggedOut{Reason: events.ConnectFailureLoggedOut})
	waitFor(t, "runner ended", func() bool { return len(sup.Running()) == 0 })
	got := status()
	if got.Status != chatsync.SessionLoggedOut {
		t.Errorf("status %s, want logged_out", got.Status)
	}
	if jid, _ := e.st.DeviceJID(ctx, s.ID); jid != "" {
		t.Errorf("device %q still linked after logout", jid)
	}
	if h, _ := Holder(ctx, e.rdb, s.ID); h != "" {
		t.Errorf("lease still held by %q", h)
	}
	var kinds []chatsync.SessionStatus
	for _, ev := range e.statusEvents(t) {
		kinds = append(kinds, ev.Status)
	}
	for _, want := range []chatsync.SessionStatus{chatsync.SessionConnected, chatsync.SessionBanned, chatsync.SessionStreamReplaced, chatsync.SessionLoggedOut} {
		if !slices.Contains(kinds, want) {
			t.Errorf("no %s event in %v", want, kinds)
		}
	}
}

func TestSupervisorStopsWhenLeaseIsLost(t *testing.T) {
	e := newEnv(t)
	s := e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	conns := newClients()
	tr := &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
		conns.add(cli)
		return nil
	}}
	sup := supervise(t, e, tr, func(p *SupervisorParams) { p.LeaseTTL = 300 * time.Millisecond })
	conns.next(t)
	// Another process took the lease (this one's expired during a pause).
	if err := e.rdb.Set(t.Context(), leaseKey(s.ID), "worker-elsewhere", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to stop", func() bool { return len(sup.Running()) == 0 })
	if h, _ := Holder(t.Context(), e.rdb, s.ID); h != "worker-elsewhere" {
		t.Errorf("holder %q: the stopped runner released another's lease", h)
	}
}

func TestSupervisorPicksUpAndDropsSessions(t *testing.T) {
	e := newEnv(t)
	conns := newClients()
	tr := &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
		conns.add(cli)
		return nil
	}}
	sup := supervise(t, e, tr, nil)
	// Paired after the supervisor started: a wake-up brings it in.
	s := e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	if err := Wake(t.Context(), e.rdb); err != nil {
		t.Fatal(err)
	}
	conns.next(t)
	waitFor(t, "running", func() bool { return slices.Equal(sup.Running(), []int64{s.ID}) })
	// A changed sync config reaches the running session.
	cfg := chatsync.SyncConfig{MaxChats: 7, SyncWindowDays: 3}
	if _, err := e.st.UpdateSession(t.Context(), e.ws, s.ID, store.SessionUpdate{SyncConfig: &cfg}); err != nil {
		t.Fatal(err)
	}
	if err := Wake(t.Context(), e.rdb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new sync config", func() bool {
		sup.mu.Lock()
		r := sup.running[s.ID]
		sup.mu.Unlock()
		if r == nil {
			return false
		}
		r.mu.Lock()
		sess := r.session
		r.mu.Unlock()
		return sess != nil && sess.syncConfig() == cfg
	})
	// A device that vanished from the device store is unlinked.
	gone := e.session(t, "Gone")
	if err := e.st.SetDeviceJID(t.Context(), gone.ID, "15550002222:1@s.whatsapp.net"); err != nil {
		t.Fatal(err)
	}
	// Deleting the session stops it.
	if err := e.st.DeleteSession(t.Context(), e.ws, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := Wake(t.Context(), e.rdb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "deleted session stopped", func() bool { return len(sup.Running()) == 0 })
	waitFor(t, "vanished device unlinked", func() bool { jid, _ := e.st.DeviceJID(t.Context(), gone.ID); return jid == "" })
	if got, _ := e.st.SessionByID(t.Context(), gone.ID); got.Status != chatsync.SessionLoggedOut {
		t.Errorf("vanished device's session is %s, want logged_out", got.Status)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for failures, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: 5 * time.Second} {
		if got := backoff(time.Second, 5*time.Second, failures); got != want {
			t.Errorf("backoff after %d failures = %v, want %v", failures, got, want)
		}
	}
}

func TestNewSupervisorAndManagerRequire(t *testing.T) {
	t.Parallel()
	if _, err := NewSupervisor(SupervisorParams{}); err == nil {
		t.Error("NewSupervisor without dependencies: no error")
	}
	if _, err := NewManager(ManagerParams{}); err == nil {
		t.Error("NewManager without dependencies: no error")
	}
}

func TestSupervisorWatchdogRestartsAnIdleSession(t *testing.T) {
	e := newEnv(t)
	e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	conns := newClients()
	// Connect "succeeds" but no socket ever comes up, as when whatsmeow
	// gives up reconnecting after a connect failure.
	tr := &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
		conns.add(cli)
		serverSays(cli, &events.Connected{})
		return nil
	}}
	supervise(t, e, tr, func(p *SupervisorParams) { p.Watchdog = 10 * time.Millisecond })
	waitFor(t, "the session to be started over", func() bool { return conns.count() >= 2 })
	waitFor(t, "the watchdog's report", func() bool {
		for _, ev := range e.statusEvents(t) {
			if ev.Status == chatsync.SessionDisconnected && strings.Contains(ev.Reason, "watchdog") {
				return true
			}
		}
		return false
	})
}
