package wa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// supervisorStore is what the supervisor needs of the store.
type supervisorStore interface {
	WhatsmeowDevices(ctx context.Context) ([]store.WhatsmeowDevice, error)
	SetDeviceJID(ctx context.Context, id int64, jid string) error
}

// SupervisorParams configure a Supervisor. Store, Devices, Redis, Sink and
// Log are required.
type SupervisorParams struct {
	Store   supervisorStore
	Devices *sqlstore.Container
	Redis   redis.UniversalClient
	Sink    *Sink
	Log     *slog.Logger
	// Owner identifies this process in session leases; a random ID when
	// empty.
	Owner string
	// LeaseTTL is how long a lease outlives its holder (default 30 s); it
	// is renewed every third of it.
	LeaseTTL time.Duration
	// Poll is how often the store is checked for sessions paired, deleted
	// or freed elsewhere (default 15 s); a wake-up on WakeChannel checks at
	// once.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting a
	// session whose connection failed (defaults 2 s and 5 min); the wait
	// doubles per failure.
	MinBackoff, MaxBackoff time.Duration
	// HealthyAfter is how long a connection must have held for its end to
	// start the backoff over from MinBackoff (default 1 min): a session
	// that ran for a day and dropped is not a fifth failure in a row.
	HealthyAfter time.Duration
	// Watchdog is how often a running session's connection is checked
	// (default 1 min); offline at two checks in a row, the session is
	// started over with backoff. whatsmeow reconnects by itself after a
	// drop, but gives up on some connect failures (client outdated,
	// unknown failure codes) and would leave the session idle.
	Watchdog time.Duration
	// Transport reaches WhatsApp; WhatsApp{} when nil.
	Transport Transport
	// Metrics counts what the sessions' history leaves out; nil records
	// nothing.
	Metrics *Metrics
}

// Supervisor runs every paired whatsmeow session this process can lease:
// one whatsmeow client each, connected at start and reconnected with
// backoff, its status recorded and published through the Sink, its batches
// into the pipeline. It answers the requests other processes send to the
// sessions it runs (send, history, logout).
type Supervisor struct {
	p      SupervisorParams
	leases *Leases
	log    *slog.Logger

	mu      sync.Mutex
	running map[int64]*runner
	// gone holds sessions whose device was logged out while running here,
	// by device JID, until the store forgets the device.
	gone map[int64]string
	wg   sync.WaitGroup
}

// NewSupervisor returns a supervisor.
func NewSupervisor(p SupervisorParams) (*Supervisor, error) {
	if p.Store == nil || p.Devices == nil || p.Redis == nil || p.Sink == nil || p.Log == nil {
		return nil, errors.New("wa: supervisor needs Store, Devices, Redis, Sink and Log")
	}
	if p.Owner == "" {
		p.Owner = NewOwnerID("worker")
	}
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = 30 * time.Second
	}
	if p.Poll <= 0 {
		p.Poll = 15 * time.Second
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 2 * time.Second
	}
	if p.MaxBackoff < p.MinBackoff {
		p.MaxBackoff = max(5*time.Minute, p.MinBackoff)
	}
	if p.Watchdog <= 0 {
		p.Watchdog = time.Minute
	}
	if p.HealthyAfter <= 0 {
		p.HealthyAfter = time.Minute
	}
	if p.Transport == nil {
		p.Transport = WhatsApp{}
	}
	return &Supervisor{
		p: p, leases: NewLeases(p.Redis, p.Owner, p.LeaseTTL), log: p.Log.With(slog.String("component", "wa-supervisor")),
		running: make(map[int64]*runner), gone: make(map[int64]string),
	}, nil
}

// Running lists the sessions this supervisor runs now.
func (s *Supervisor) Running() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, 0, len(s.running))
	for id := range s.running {
		out = append(out, id)
	}
	return out
}

// Run supervises until ctx is done, then disconnects every session and
// releases its leases.
func (s *Supervisor) Run(ctx context.Context) error {
	wake := s.p.Redis.Subscribe(ctx, WakeChannel)
	defer wake.Close()
	if _, err := wake.Receive(ctx); err != nil {
		return fmt.Errorf("subscribe to %s: %w", WakeChannel, err)
	}
	// The responder outlives the runners: each one stops serving its
	// session's requests as it ends, which needs the subscription open.
	respCtx, stopResp := context.WithCancel(context.WithoutCancel(ctx))
	resp := NewResponder(respCtx, s.p.Redis, s.log)
	respDone := make(chan struct{})
	go func() { defer close(respDone); resp.Run(respCtx) }()
	defer func() {
		s.wg.Wait()
		stopResp()
		<-respDone
	}()
	t := time.NewTicker(s.p.Poll)
	defer t.Stop()
	wakes := wake.Channel()
	for {
		if err := s.reconcile(ctx, resp); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "reconcile sessions", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case _, ok := <-wakes:
			if !ok {
				wakes = nil // closed: polling goes on
			}
		}
	}
}

// reconcile stops runners of sessions that were deleted or unlinked and
// starts one for each linked session whose lease it gets.
func (s *Supervisor) reconcile(ctx context.Context, resp *Responder) error {
	devs, err := s.p.Store.WhatsmeowDevices(ctx)
	if err != nil {
		return err
	}
	want := make(map[int64]store.WhatsmeowDevice, len(devs))
	for _, d := range devs {
		want[d.Session.ID] = d
	}
	// The lock is not held across Redis calls: Running and finished
	// (runners ending) must not wait for a slow Redis. Only Run calls
	// reconcile, so nothing else starts runners in between.
	var candidates []store.WhatsmeowDevice
	s.mu.Lock()
	for id, r := range s.running {
		d, ok := want[id]
		if !ok || d.DeviceJID != r.deviceJID {
			r.stop()
			continue
		}
		r.setSyncConfig(d.Session.SyncConfig)
	}
	for id, jid := range s.gone {
		if d, ok := want[id]; !ok || d.DeviceJID != jid {
			delete(s.gone, id)
		}
	}
	for _, d := range devs {
		if s.running[d.Session.ID] == nil && s.gone[d.Session.ID] != d.DeviceJID {
			candidates = append(candidates, d)
		}
	}
	s.mu.Unlock()

	for _, d := range candidates {
		id := d.Session.ID
		ok, err := s.leases.Acquire(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			continue // another process runs it
		}
		r := &runner{sup: s, resp: resp, dev: d, deviceJID: d.DeviceJID, done: make(chan struct{})}
		var rctx context.Context
		rctx, r.cancel = context.WithCancel(ctx)
		s.mu.Lock()
		s.running[id] = r
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			r.run(rctx)
		}()
	}
	return nil
}

// finished forgets a runner; with loggedOut, its device too until the
// store does.
func (s *Supervisor) finished(r *runner, loggedOut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[r.dev.Session.ID] == r {
		delete(s.running, r.dev.Session.ID)
	}
	if loggedOut {
		s.gone[r.dev.Session.ID] = r.deviceJID
	}
}

// runner runs one session.
type runner struct {
	sup       *Supervisor
	resp      *Responder
	dev       store.WhatsmeowDevice
	deviceJID string
	cancel    context.CancelFunc
	done      chan struct{}

	mu       sync.Mutex
	attempt  context.CancelFunc
	last     chatsync.SessionStatus
	banUntil time.Time
	session  *Session
	// connectedAt is when the current attempt's connection came up; zero
	// before it does.
	connectedAt time.Time
}

func (r *runner) stop() { r.cancel() }

// setSyncConfig applies a changed sync config to history from now on.
func (r *runner) setSyncConfig(cfg chatsync.SyncConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session != nil {
		r.session.SetSyncConfig(cfg)
	}
}

func (r *runner) run(ctx context.Context) {
	defer close(r.done)
	sid := r.dev.Session.ID
	log := r.sup.log.With(slog.Int64("workspace_id", r.dev.Session.WorkspaceID), slog.Int64("session_id", sid))
	loggedOut := false
	defer func() {
		// The context may be what ended the run.
		ctx := context.WithoutCancel(ctx)
		r.resp.Stop(ctx, sid)
		if err := r.sup.leases.Release(ctx, sid); err != nil {
			log.WarnContext(ctx, "release lease", slog.String("error", err.Error()))
		}
		r.sup.finished(r, loggedOut)
	}()
	renewDone := make(chan struct{})
	go func() { defer close(renewDone); r.sup.leases.keep(ctx, sid, log, r.cancel) }()
	defer func() { r.cancel(); <-renewDone }()

	sess, err := r.open(ctx, log)
	switch {
	case errors.Is(err, errDeviceGone):
		loggedOut = true
		r.forgetDevice(ctx, log, "the device's keys are gone from the device store; pair the session again")
		return
	case err != nil:
		log.ErrorContext(ctx, "open session", slog.String("error", err.Error()))
		return
	}
	if err := r.resp.Serve(ctx, sid, r.handle); err != nil {
		log.ErrorContext(ctx, "serve session requests", slog.String("error", err.Error()))
		return
	}
	log.InfoContext(ctx, "session started", slog.String("owner", r.sup.leases.Owner()))
	failures := 0
	for ctx.Err() == nil {
		attemptCtx, cancel := context.WithCancel(ctx)
		r.mu.Lock()
		r.attempt, r.last, r.connectedAt = cancel, "", time.Time{}
		r.mu.Unlock()
		watchDone := make(chan bool, 1)
		go func() { watchDone <- r.watch(attemptCtx, sess, cancel) }()
		err := sess.Run(attemptCtx)
		cancel()
		if <-watchDone && err == nil {
			err = errors.New("not connected to WhatsApp at two watchdog checks")
		}
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		last, banUntil, connectedAt := r.last, r.banUntil, r.connectedAt
		r.mu.Unlock()
		if !connectedAt.IsZero() && time.Since(connectedAt) >= r.sup.p.HealthyAfter {
			failures = 0 // a healthy connection ended: not one more failure in a row
		}
		var wait time.Duration
		switch last {
		case chatsync.SessionLoggedOut:
			loggedOut = true
			r.forgetDevice(ctx, log, "")
			return
		case chatsync.SessionBanned:
			wait = r.sup.p.MaxBackoff
			if d := time.Until(banUntil); d > 0 {
				wait = d
			}
		case chatsync.SessionStreamReplaced:
			// Another client took the device over; taking it back at once
			// would make the two replace each other in a loop.
			wait = r.sup.p.MaxBackoff
		default:
			failures++
			wait = backoff(r.sup.p.MinBackoff, r.sup.p.MaxBackoff, failures)
			reason := "connection ended"
			if err != nil {
				reason = err.Error()
			}
			_ = r.sup.p.Sink.SetStatus(ctx, sid, chatsync.SessionDisconnected, "reconnecting in "+wait.String()+": "+reason, time.Time{})
			log.WarnContext(ctx, "session connection failed", slog.Int("failures", failures), slog.Duration("retry_in", wait), slog.String("error", reason))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// watch cancels an attempt whose session stays offline at two checks in a
// row, and reports whether it did.
func (r *runner) watch(ctx context.Context, sess *Session, cancel context.CancelFunc) bool {
	t := time.NewTicker(r.sup.p.Watchdog)
	defer t.Stop()
	misses := 0
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		if sess.Online() {
			misses = 0
			continue
		}
		if misses++; misses >= 2 {
			cancel()
			return true
		}
	}
}

var errDeviceGone = errors.New("device not in the device store")

// open loads the session's device and builds its client and Session.
func (r *runner) open(ctx context.Context, log *slog.Logger) (*Session, error) {
	jid, err := types.ParseJID(r.deviceJID)
	if err != nil {
		return nil, fmt.Errorf("device JID %q: %w", r.deviceJID, err)
	}
	dev, err := r.sup.p.Devices.GetDevice(ctx, jid)
	if err != nil {
		return nil, fmt.Errorf("load device %s: %w", jid, err)
	}
	if dev == nil {
		return nil, errDeviceGone
	}
	cli := whatsmeow.NewClient(dev, Logger(log))
	sess, err := NewSession(SessionParams{
		ID: r.dev.Session.ID, Client: cli, Batches: r.sup.p.Sink, Status: statusTap{next: r.sup.p.Sink, r: r}, History: r.sup.p.Sink, Metrics: r.sup.p.Metrics,
		Logger: log, SyncConfig: r.dev.Session.SyncConfig, Transport: r.sup.p.Transport,
	})
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.session = sess
	r.mu.Unlock()
	return sess, nil
}

// forgetDevice unlinks a logged-out session's device.
func (r *runner) forgetDevice(ctx context.Context, log *slog.Logger, reason string) {
	ctx = context.WithoutCancel(ctx)
	sid := r.dev.Session.ID
	if reason != "" {
		_ = r.sup.p.Sink.SetStatus(ctx, sid, chatsync.SessionLoggedOut, reason, time.Time{})
	}
	if err := r.sup.p.Store.SetDeviceJID(ctx, sid, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
		log.ErrorContext(ctx, "unlink logged-out device", slog.String("error", err.Error()))
	}
	log.InfoContext(ctx, "session logged out; it must be paired again")
}

// handle answers a request of another process.
func (r *runner) handle(ctx context.Context, req Request) Response {
	r.mu.Lock()
	sess := r.session
	r.mu.Unlock()
	if sess == nil || !sess.Online() {
		return Response{Offline: true, Error: ErrNotConnected.Error()}
	}
	switch req.Kind {
	case RequestSend:
		id, err := sess.Send(ctx, req.ChatJID, req.Text)
		if err != nil {
			return Response{Error: err.Error(), Offline: errors.Is(err, ErrNotConnected)}
		}
		return Response{MessageID: id}
	case RequestHistory:
		if err := sess.RequestHistory(ctx, req.Anchors, req.Count); err != nil {
			return Response{Error: err.Error(), Offline: errors.Is(err, ErrNotConnected)}
		}
		return Response{}
	case RequestLogout:
		if err := sess.Logout(ctx); err != nil {
			return Response{Error: err.Error(), Offline: errors.Is(err, ErrNotConnected)}
		}
		r.mu.Lock()
		r.last = chatsync.SessionLoggedOut
		r.mu.Unlock()
		return Response{}
	}
	return Response{Error: fmt.Sprintf("unknown request kind %q", req.Kind)}
}

// onStatus watches the session's status changes: the end states stop the
// current connection attempt so run decides what comes next.
func (r *runner) onStatus(st chatsync.SessionStatus, banExpire time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch st {
	case chatsync.SessionLoggedOut, chatsync.SessionBanned, chatsync.SessionStreamReplaced:
		r.last, r.banUntil = st, banExpire
		if r.attempt != nil {
			r.attempt()
		}
	case chatsync.SessionConnected:
		r.last = st
		if r.connectedAt.IsZero() {
			r.connectedAt = time.Now()
		}
	}
}

// statusTap passes status changes on and shows them to the runner.
type statusTap struct {
	next statusSink
	r    *runner
}

func (t statusTap) SetStatus(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason string, banExpire time.Time) error {
	err := t.next.SetStatus(ctx, sessionID, st, reason, banExpire)
	t.r.onStatus(st, banExpire)
	return err
}

// backoff is min doubled per failure after the first, capped at max.
func backoff(minWait, maxWait time.Duration, failures int) time.Duration {
	d := minWait
	for i := 1; i < failures && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}
