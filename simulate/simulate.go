// Package simulate pushes realistic synthetic WhatsApp traffic through the
// signed Go client, for benchmarks, demos and end-to-end tests: a history
// backfill of N chats (private and group, with messages and participants) in
// batches from C concurrent callers, then an optional stream of live
// messages at a fixed rate. `chatsync simulate` is a thin flag wrapper
// around Run.
package simulate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync/client"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
)

// Params describes a run. The scalar fields are flag-friendly (strings,
// ints, floats, durations; Protocol is a flag.TextVar).
type Params struct {
	// URL is the chatsync server, e.g. "http://127.0.0.1:8080".
	URL string
	// SessionID is the session to push for, e.g. "42".
	SessionID string
	// Secret is the session's sidecar secret.
	Secret string
	// Protocol is connect (proto), json or grpc.
	Protocol client.Protocol

	// Chats is how many chats the history phase sends (N).
	Chats int
	// Messages is how many messages each chat carries (M), at most 1,000.
	Messages int
	// GroupEvery makes every GroupEvery-th chat a group: 5 gives the 4:1
	// private:group mix, 1 only groups, 0 no groups.
	GroupEvery int
	// Participants is the member count of each group (K); the first is the
	// owner (superadmin), about one in five of the rest is an admin.
	Participants int
	// BatchSize is chats per SyncBatch call (B), 1–500.
	BatchSize int
	// Concurrency is how many calls are in flight at most (C).
	Concurrency int

	// LiveMessages is how many live messages follow the history (or run
	// beside it, with LiveDuringHistory); 0 skips the live phase. They go
	// through a client.Live sender: coalesced into BATCH_KIND_LIVE batches
	// and retried until accepted.
	LiveMessages int
	// LiveRate is live messages per second; 0 sends them as fast as they
	// can be added.
	LiveRate float64
	// LiveDuringHistory starts the live messages with the history, as a
	// phone that receives messages while its history syncs.
	LiveDuringHistory bool
	// LiveFlush and LiveFlushMessages are the live sender's flush interval
	// and batch size; zero means client.DefaultFlushInterval and
	// client.DefaultFlushMessages.
	LiveFlush         time.Duration
	LiveFlushMessages int

	// RunID prefixes the batch IDs ("sim-<run>-h000000"), 1–40 of
	// [A-Za-z0-9._:-]. The same RunID and Seed send the same batches, so a
	// rerun tests the server's deduplication.
	RunID string
	// Seed varies the generated content.
	Seed int64
	// Start is the newest activity time of the generated chats; zero means
	// the time Run starts.
	Start time.Time

	// Retries, Backoff and CallTimeout are the client's retry policy.
	Retries     int
	Backoff     time.Duration
	CallTimeout time.Duration

	// HTTPClient, when set, carries the calls (e.g. a test server's client).
	HTTPClient *http.Client
	// Progress, when set, is called after every finished call; calls are
	// serialised, so it may draw a progress bar without locking.
	Progress func(Progress)
	// Logger receives retry and failure lines; nil logs nothing.
	Logger *slog.Logger
	// Now and Sleep replace the clock and the pacing wait (tests); nil means
	// the real ones.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultParams are the defaults `chatsync simulate` starts from: the issue's
// benchmark shape (4:1 private:group, batches of 50, 4 callers).
func DefaultParams() Params {
	return Params{
		URL:          "http://127.0.0.1:8080",
		Protocol:     client.ProtocolConnect,
		Chats:        1000,
		Messages:     1,
		GroupEvery:   5,
		Participants: 8,
		BatchSize:    50,
		Concurrency:  4,
		LiveRate:     10,
		RunID:        "sim",
		Seed:         1,
		Retries:      client.DefaultRetries,
		Backoff:      client.DefaultBackoff,
		CallTimeout:  client.DefaultCallTimeout,
	}
}

// Validate reports the first problem with p.
func (p Params) Validate() error {
	switch {
	case p.URL == "":
		return errors.New("url is required")
	case p.SessionID == "":
		return errors.New("session id is required")
	case p.Secret == "":
		return errors.New("secret is required")
	case p.Chats < 0:
		return errors.New("chats must be >= 0")
	case p.Messages < 0 || p.Messages > 1000:
		return errors.New("messages must be 0-1000 per chat")
	case p.GroupEvery < 0:
		return errors.New("group-every must be >= 0")
	case p.Participants < 1 || p.Participants > 1024:
		return errors.New("participants must be 1-1024")
	case p.BatchSize < 1 || p.BatchSize > 500:
		return errors.New("batch size must be 1-500")
	case p.Concurrency < 1:
		return errors.New("concurrency must be >= 1")
	case p.LiveMessages < 0:
		return errors.New("live messages must be >= 0")
	case p.LiveMessages > 0 && p.Chats == 0:
		return errors.New("live messages need chats > 0")
	case p.LiveRate < 0:
		return errors.New("live rate must be >= 0")
	case !validRunID(p.RunID):
		return fmt.Errorf("run id %q: want 1-40 of [A-Za-z0-9._:-]", p.RunID)
	}
	return nil
}

func validRunID(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)) {
			return false
		}
	}
	return true
}

// Phase names the part of a run.
type Phase string

// Phases.
const (
	PhaseHistory Phase = "history"
	PhaseLive    Phase = "live"
)

// Progress is a snapshot after a finished call.
type Progress struct {
	Phase Phase
	// Done and Total count calls (batches) of the phase.
	Done, Total int
	// ChatsSent counts history chats in accepted batches so far.
	ChatsSent int
	// Failed counts calls of the run that failed after their retries.
	Failed int
	// Elapsed is the time since the run started.
	Elapsed time.Duration
}

// Summary reports a run.
type Summary struct {
	// Chats, Messages and Batches count what accepted history calls carried.
	Chats, Messages, Batches int
	// Accepted and Rejected are the server's per-chat counts; Duplicates
	// counts batches it had seen before.
	Accepted, Rejected, Duplicates int
	// LiveMessages counts live messages the server accepted, in
	// LiveBatches batches.
	LiveMessages, LiveBatches int
	// FailedBatches counts calls that failed after their retries; Errors
	// counts them by code ("unavailable", ...).
	FailedBatches int
	Errors        map[string]int
	// Retries counts attempts that were retried.
	Retries int
	// HistoryDuration is the history phase's wall time; ChatsPerSecond is
	// Chats over it.
	HistoryDuration time.Duration
	ChatsPerSecond  float64
	// LiveDuration is the live phase's wall time.
	LiveDuration time.Duration
	// Latency is over every SyncBatch attempt of the history phase;
	// LiveLatency over live messages, from the moment one was added to the
	// live sender until the server accepted its batch (coalescing wait and
	// retries included).
	Latency, LiveLatency Latency
}

// Run pushes the traffic p describes and reports it. Failed calls are
// counted, not fatal; Run returns an error for invalid params, when the
// server refuses the signature (every further call would be refused too), or
// when ctx ends, with the summary so far.
func Run(ctx context.Context, p Params) (Summary, error) {
	if err := p.Validate(); err != nil {
		return Summary{}, fmt.Errorf("simulate: %w", err)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = sleepContext
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Start.IsZero() {
		p.Start = p.Now()
	}
	r := &runner{p: p, gen: generator{p: p}, start: p.Now(), sum: Summary{Errors: map[string]int{}}}
	opts := []client.Option{
		client.WithProtocol(p.Protocol),
		client.WithRetries(p.Retries),
		client.WithBackoff(p.Backoff, client.DefaultMaxBackoff),
		client.WithCallTimeout(p.CallTimeout),
		client.WithObserver(r.observe),
		client.WithLogger(p.Logger),
		client.WithClock(p.Now),
	}
	if p.HTTPClient != nil {
		opts = append(opts, client.WithHTTPClient(p.HTTPClient))
	}
	r.client = client.New(p.URL, p.SessionID, p.Secret, opts...)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel

	if p.LiveDuringHistory {
		live := make(chan error, 1)
		go func() { live <- r.live(ctx) }()
		herr := r.history(ctx)
		err := cmp.Or(herr, <-live)
		return r.summary(), err
	}
	if err := r.history(ctx); err != nil {
		return r.summary(), err
	}
	err := r.live(ctx)
	return r.summary(), err
}

type runner struct {
	p      Params
	gen    generator
	client *client.Client
	start  time.Time
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	phase     Phase
	sum       Summary
	latencies map[Phase][]time.Duration
	done      int
}

// observe counts every attempt's retry, and records history attempts'
// latency (live messages' latency is end to end, see liveSent).
func (r *runner) observe(a client.Attempt) {
	if connect.CodeOf(a.Err) == connect.CodeUnauthenticated {
		// The live sender retries even this; every other call would be
		// refused too.
		r.cancel(fmt.Errorf("%w: %w", client.ErrUnauthenticated, a.Err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if a.Wait > 0 {
		r.sum.Retries++
	}
	if strings.HasPrefix(a.BatchID, "live-") {
		return
	}
	if r.latencies == nil {
		r.latencies = map[Phase][]time.Duration{}
	}
	r.latencies[PhaseHistory] = append(r.latencies[PhaseHistory], a.Duration)
}

func (r *runner) history(ctx context.Context) error {
	total := (r.p.Chats + r.p.BatchSize - 1) / r.p.BatchSize
	r.setPhase(PhaseHistory)
	start := r.p.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(r.p.Concurrency, max(total, 1)) {
		wg.Go(func() {
			for k := range next {
				if ctx.Err() != nil {
					continue // drain: the run is stopping
				}
				req := r.gen.historyBatch(k)
				res, err := r.client.SyncBatch(ctx, req)
				r.finish(ctx, PhaseHistory, total, req, res, err)
			}
		})
	}
feed:
	for k := range total {
		select {
		case next <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()

	r.mu.Lock()
	r.sum.HistoryDuration = r.p.Now().Sub(start)
	if s := r.sum.HistoryDuration.Seconds(); s > 0 {
		r.sum.ChatsPerSecond = float64(r.sum.Chats) / s
	}
	r.mu.Unlock()
	return stopErr(ctx)
}

// live adds LiveMessages live reports to a client.Live sender, message n
// due at start+n/rate, and waits until all are accepted (or ctx ends).
func (r *runner) live(ctx context.Context) error {
	if r.p.LiveMessages == 0 {
		return nil
	}
	start := r.p.Now()
	sender := r.client.Live(client.LiveConfig{FlushInterval: r.p.LiveFlush, FlushMessages: r.p.LiveFlushMessages, OnSent: r.liveSent})
	for n := range r.p.LiveMessages {
		if r.p.LiveRate > 0 {
			due := start.Add(time.Duration(float64(n) / r.p.LiveRate * float64(time.Second)))
			if wait := due.Sub(r.p.Now()); wait > 0 {
				if err := r.p.Sleep(ctx, wait); err != nil {
					break
				}
			}
		}
		if err := sender.Add(ctx, r.gen.liveChat(n, r.p.Now())); err != nil {
			break
		}
	}
	if err := sender.Close(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("simulate: %w", err)
	}
	r.mu.Lock()
	r.sum.LiveDuration = r.p.Now().Sub(start)
	r.mu.Unlock()
	return stopErr(ctx)
}

// liveSent records an accepted live batch: its messages, their end-to-end
// latency, and progress.
func (r *runner) liveSent(req *chatsyncv1.SyncBatchRequest, res *chatsyncv1.SyncBatchResponse, added []time.Time) {
	now := r.p.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.latencies == nil {
		r.latencies = map[Phase][]time.Duration{}
	}
	for _, at := range added {
		r.latencies[PhaseLive] = append(r.latencies[PhaseLive], now.Sub(at))
	}
	for _, c := range req.GetChats() {
		r.sum.LiveMessages += len(c.GetMessages())
	}
	r.sum.LiveBatches++
	r.count(res)
	if r.p.Progress != nil && !r.p.LiveDuringHistory {
		r.p.Progress(Progress{Phase: PhaseLive, Done: r.sum.LiveMessages, Total: r.p.LiveMessages, ChatsSent: r.sum.Chats,
			Failed: r.sum.FailedBatches, Elapsed: now.Sub(r.start)})
	}
}

func (r *runner) setPhase(ph Phase) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase, r.done = ph, 0
}

// finish records a call's outcome and reports progress, under the lock so
// progress callbacks never overlap.
func (r *runner) finish(ctx context.Context, ph Phase, total int, req *chatsyncv1.SyncBatchRequest, res *chatsyncv1.SyncBatchResponse, err error) {
	if errors.Is(err, client.ErrUnauthenticated) {
		r.cancel(err) // every other call would be refused too
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	switch {
	case err != nil && ctx.Err() != nil && !errors.Is(err, client.ErrUnauthenticated):
		// Cut short by the caller; not the server's failure.
	case err != nil:
		r.sum.FailedBatches++
		r.sum.Errors[connect.CodeOf(err).String()]++
	default:
		r.sum.Batches++
		r.sum.Chats += len(req.GetChats())
		for _, c := range req.GetChats() {
			r.sum.Messages += len(c.GetMessages())
		}
		r.count(res)
	}
	if r.p.Progress != nil {
		r.p.Progress(Progress{Phase: ph, Done: r.done, Total: total, ChatsSent: r.sum.Chats,
			Failed: r.sum.FailedBatches, Elapsed: r.p.Now().Sub(r.start)})
	}
}

func (r *runner) count(res *chatsyncv1.SyncBatchResponse) {
	r.sum.Accepted += int(res.GetAcceptedCount())
	r.sum.Rejected += len(res.GetRejected())
	if res.GetDuplicate() {
		r.sum.Duplicates++
	}
}

func (r *runner) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Errors = make(map[string]int, len(r.sum.Errors))
	for k, v := range r.sum.Errors {
		s.Errors[k] = v
	}
	s.Latency = LatencyOf(append([]time.Duration(nil), r.latencies[PhaseHistory]...))
	s.LiveLatency = LatencyOf(append([]time.Duration(nil), r.latencies[PhaseLive]...))
	return s
}

// stopErr is why ctx ended (the unauthenticated error, or the caller's
// cancellation), or nil.
func stopErr(ctx context.Context) error {
	if ctx.Err() == nil {
		return nil
	}
	return fmt.Errorf("simulate: %w", context.Cause(ctx))
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
