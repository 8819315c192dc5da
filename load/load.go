// Package load replays the seed's load scenario (TEST-5) against a running
// chatsync: virtual users, ramped through stages, each with a session of
// its own, each iteration a signed SyncBatch of ChatsPerBatch new chats,
// Think time, then a ListChats of the first PageSize chats. It reports the
// latency percentiles of both calls, failures by code, chats accepted and
// synced, the peak queue depth and the time the queue took to drain after
// the last call. `chatsync load` is a thin flag wrapper around Run.
package load

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync/client"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/simulate"
)

// Stage ramps the number of users linearly to Target over Duration.
type Stage struct {
	Duration time.Duration
	Target   int
}

// DefaultStages are the seed's: up to 50 users in 2 minutes, to 100 over 5
// minutes, down to 0 in 2.
const DefaultStages = "2m:50,5m:100,2m:0"

// ParseStages reads "duration:target,…", e.g. DefaultStages.
func ParseStages(s string) ([]Stage, error) {
	var out []Stage
	for part := range strings.SplitSeq(s, ",") {
		d, t, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("stage %q: want duration:users", part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("stage %q: %q is not a positive duration", part, d)
		}
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 || n > 10_000 {
			return nil, fmt.Errorf("stage %q: %q is not a user count (0–10000)", part, t)
		}
		out = append(out, Stage{Duration: dur, Target: n})
	}
	if len(out) == 0 {
		return nil, errors.New("no stages")
	}
	return out, nil
}

// Params describe a run.
type Params struct {
	// URL is the chatsync server, e.g. "http://127.0.0.1:8080".
	URL string
	// Token is an API token of the workspace the users' sessions are
	// created in and whose chats ListChats lists.
	Token string
	// OperatorToken reads the queue depth from /metrics
	// (chatsync_session_queue_depth) once a second; empty: not reported.
	OperatorToken string
	Stages        []Stage
	// ChatsPerBatch is chats per SyncBatch (the seed's 50), 1–100.
	ChatsPerBatch int
	// Think is the pause between a user's SyncBatch and its ListChats (1 s).
	Think time.Duration
	// PageSize is ListChats' page size (50).
	PageSize int
	// Timeout bounds each call (30 s).
	Timeout time.Duration
	// DrainTimeout bounds waiting, after the last call, for every accepted
	// chat to be synced (2 m).
	DrainTimeout time.Duration
	// RunID names the run's sessions and prefixes its batch IDs.
	RunID string
	// HTTP is the client of every call; nil: a pooled one.
	HTTP *http.Client
}

// DefaultParams are the seed's scenario against a local server.
func DefaultParams() Params {
	st, _ := ParseStages(DefaultStages) // a valid constant
	return Params{
		URL: "http://127.0.0.1:8080", Stages: st, ChatsPerBatch: 50, Think: time.Second, PageSize: 50,
		Timeout: 30 * time.Second, DrainTimeout: 2 * time.Minute, RunID: time.Now().UTC().Format("20060102T150405"),
	}
}

func (p Params) validate() error {
	var errs []error
	if p.URL == "" || p.Token == "" {
		errs = append(errs, errors.New("the server URL and an API token are required"))
	}
	if len(p.Stages) == 0 {
		errs = append(errs, errors.New("no stages"))
	}
	if p.ChatsPerBatch < 1 || p.ChatsPerBatch > 100 {
		errs = append(errs, errors.New("chats per batch must be 1–100"))
	}
	if p.PageSize < 1 || p.PageSize > 200 {
		errs = append(errs, errors.New("page size must be 1–200"))
	}
	if p.Think < 0 || p.Timeout <= 0 || p.DrainTimeout <= 0 {
		errs = append(errs, errors.New("think time must be >= 0, timeouts > 0"))
	}
	if p.RunID == "" || len(p.RunID) > 24 || strings.ContainsFunc(p.RunID, func(r rune) bool {
		return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", r)
	}) {
		errs = append(errs, errors.New("run ID must be 1–24 of [A-Za-z0-9._-]"))
	}
	return errors.Join(errs...)
}

// Latency summarises one call's latencies (nearest-rank percentiles, as
// simulate computes them).
type Latency simulate.Latency

func latencyOf(ds []time.Duration) Latency { return Latency(simulate.LatencyOf(ds)) }

// Report is what a run measured.
type Report struct {
	Duration  time.Duration
	PeakUsers int
	Sync      Latency
	List      Latency
	// Failures counts failed calls by "Call code".
	Failures      map[string]int
	ChatsAccepted int64
	ChatsSynced   int64
	// PeakQueueDepth is the most batches accepted but not finished seen
	// at once; -1 when no operator token was given.
	PeakQueueDepth int
	// Drain is how long after the last call every accepted chat was
	// synced; Drained is false when DrainTimeout passed first.
	Drain   time.Duration
	Drained bool
	// Stages are the same figures per stage, by the stage in which a call
	// started: a stage that holds its users steady (e.g. "2m:200,2m:200")
	// measures that number of users without the ramps.
	Stages []StageReport
}

// StageReport is one stage's calls.
type StageReport struct {
	Stage    Stage
	Sync     Latency
	List     Latency
	Failures int
}

// Failed is the number of failed calls.
func (r Report) Failed() int {
	n := 0
	for _, c := range r.Failures {
		n += c
	}
	return n
}

type run struct {
	p     Params
	api   chatsyncv1connect.ChatServiceClient
	start time.Time
	mu    sync.Mutex
	// sync and list are the latencies per stage.
	sync, list [][]time.Duration
	fails      map[string]int
	stageFails []int
	accept     int64
	lastEnd    time.Time
}

func (r *run) record(call string, t0 time.Time, err error) {
	end := time.Now()
	st := stageAt(r.p.Stages, t0.Sub(r.start))
	r.mu.Lock()
	defer r.mu.Unlock()
	if end.After(r.lastEnd) {
		r.lastEnd = end
	}
	if err != nil {
		r.fails[call+" "+connect.CodeOf(err).String()]++
		r.stageFails[st]++
		return
	}
	if call == "SyncBatch" {
		r.sync[st] = append(r.sync[st], end.Sub(t0))
	} else {
		r.list[st] = append(r.list[st], end.Sub(t0))
	}
}

// stageAt is the index of the stage running at elapsed (the last one
// after the end).
func stageAt(stages []Stage, elapsed time.Duration) int {
	for i, s := range stages {
		if elapsed < s.Duration {
			return i
		}
		elapsed -= s.Duration
	}
	return len(stages) - 1
}

// Run runs the scenario and reports it; an error means the run could not
// start or measure (calls that fail are counted in the report).
func Run(ctx context.Context, p Params) (Report, error) {
	if err := p.validate(); err != nil {
		return Report{}, err
	}
	hc := p.HTTP
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = 1000, 0
		hc = &http.Client{Transport: tr}
	}
	auth := connect.WithInterceptors(bearer(p.Token))
	n := len(p.Stages)
	r := &run{p: p, api: chatsyncv1connect.NewChatServiceClient(hc, p.URL, auth), fails: map[string]int{},
		sync: make([][]time.Duration, n), list: make([][]time.Duration, n), stageFails: make([]int, n)}
	users := 0
	for _, s := range p.Stages {
		users = max(users, s.Target)
	}
	// One session per user, created before the clock starts.
	sessions := chatsyncv1connect.NewSessionServiceClient(hc, p.URL, auth)
	clients := make([]*client.Client, users)
	ids := make([]string, users)
	for i := range users {
		res, err := sessions.CreateSession(ctx, &chatsyncv1.CreateSessionRequest{
			DisplayName: fmt.Sprintf("load %s user %d", p.RunID, i), Provider: chatsyncv1.Provider_PROVIDER_WEBJS,
		})
		if err != nil {
			return Report{}, fmt.Errorf("create the session of user %d: %w", i, err)
		}
		ids[i] = res.GetSession().GetId()
		clients[i] = client.New(p.URL, ids[i], res.GetSidecarSecret(), client.WithHTTPClient(hc),
			client.WithRetries(0), client.WithCallTimeout(p.Timeout))
	}

	sampleCtx, stopSampling := context.WithCancel(ctx)
	peak := -1
	var sampling sync.WaitGroup
	if p.OperatorToken != "" {
		peak = 0
		sampling.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				if d, err := queueDepth(sampleCtx, hc, p.URL, p.OperatorToken); err == nil {
					peak = max(peak, d)
				}
				select {
				case <-sampleCtx.Done():
					return
				case <-t.C:
				}
			}
		})
	}

	start := time.Now()
	r.start = start
	var vus sync.WaitGroup
	stops := make([]chan struct{}, 0, users)
	peakUsers := 0
	t := time.NewTicker(50 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
			continue
		case <-t.C:
		}
		target, over := targetAt(p.Stages, time.Since(start))
		done = over
		for len(stops) < target {
			i := len(stops)
			stop := make(chan struct{})
			stops = append(stops, stop)
			vus.Go(func() { r.user(ctx, i, clients[i], stop) })
		}
		peakUsers = max(peakUsers, len(stops))
		for len(stops) > target {
			close(stops[len(stops)-1])
			stops = stops[:len(stops)-1]
		}
	}
	t.Stop()
	for _, s := range stops {
		close(s)
	}
	vus.Wait()
	elapsed := time.Since(start)

	// Drain: every accepted chat synced (sessions' total_synced).
	rep := Report{Duration: elapsed, PeakUsers: peakUsers, ChatsAccepted: r.accept, PeakQueueDepth: -1}
	deadline := time.Now().Add(p.DrainTimeout)
	for {
		synced, err := r.synced(ctx, sessions, ids)
		if err == nil {
			rep.ChatsSynced = synced
		}
		if err == nil && synced >= r.accept {
			rep.Drained, rep.Drain = true, max(time.Since(r.lastEnd), 0)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			rep.Drain = time.Since(r.lastEnd)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopSampling()
	sampling.Wait()
	rep.PeakQueueDepth = peak
	r.mu.Lock()
	rep.Sync, rep.List, rep.Failures = latencyOf(slices.Concat(r.sync...)), latencyOf(slices.Concat(r.list...)), r.fails
	for i, st := range p.Stages {
		rep.Stages = append(rep.Stages, StageReport{Stage: st, Sync: latencyOf(r.sync[i]), List: latencyOf(r.list[i]), Failures: r.stageFails[i]})
	}
	r.mu.Unlock()
	return rep, nil
}

// targetAt is the number of users at elapsed, and whether the stages are
// over.
func targetAt(stages []Stage, elapsed time.Duration) (int, bool) {
	from := 0
	for _, s := range stages {
		if elapsed < s.Duration {
			f := float64(elapsed) / float64(s.Duration)
			return from + int(math.Round(float64(s.Target-from)*f)), false
		}
		elapsed -= s.Duration
		from = s.Target
	}
	return from, true
}

// user is one virtual user: iterations until stop (checked between them).
func (r *run) user(ctx context.Context, i int, c *client.Client, stop <-chan struct{}) {
	for iter := 0; ; iter++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		req := r.batch(i, iter)
		t0 := time.Now()
		res, err := c.SyncBatch(ctx, req)
		r.record("SyncBatch", t0, err)
		if err == nil {
			r.mu.Lock()
			r.accept += int64(res.GetAcceptedCount())
			r.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.p.Think):
		}
		t0 = time.Now()
		cctx, cancel := context.WithTimeout(ctx, r.p.Timeout)
		_, err = r.api.ListChats(cctx, &chatsyncv1.ListChatsRequest{PageSize: int32(r.p.PageSize)})
		cancel()
		if ctx.Err() == nil {
			r.record("ListChats", t0, err)
		}
	}
}

// batch is user i's iteration iter: ChatsPerBatch new private chats with
// one message each.
func (r *run) batch(i, iter int) *chatsyncv1.SyncBatchRequest {
	now := time.Now().Add(-time.Second)
	req := &chatsyncv1.SyncBatchRequest{
		BatchId: fmt.Sprintf("%s.%d.%d", r.p.RunID, i, iter), Kind: chatsyncv1.BatchKind_BATCH_KIND_HISTORY,
	}
	for k := range r.p.ChatsPerBatch {
		jid := fmt.Sprintf("77%04d%07d%02d@s.whatsapp.net", i%10_000, iter%10_000_000, k)
		req.Chats = append(req.Chats, &chatsyncv1.SyncChat{
			Jid: jid, Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: new(fmt.Sprintf("Load %d/%d/%d", i, iter, k)),
			LastActivityTime: timestamppb.New(now),
			Messages: []*chatsyncv1.SyncMessage{{
				Id: fmt.Sprintf("LOAD%d%07d%02d", i, iter, k), SenderJid: jid, Timestamp: timestamppb.New(now), Text: "load test message",
			}},
		})
	}
	return req
}

// synced sums the run's sessions' total_synced.
func (r *run) synced(ctx context.Context, sessions chatsyncv1connect.SessionServiceClient, ids []string) (int64, error) {
	mine := make(map[string]bool, len(ids))
	for _, id := range ids {
		mine[id] = true
	}
	var sum int64
	token := ""
	for {
		res, err := sessions.ListSessions(ctx, &chatsyncv1.ListSessionsRequest{PageSize: 200, PageToken: token})
		if err != nil {
			return 0, err
		}
		for _, s := range res.GetSessions() {
			if mine[s.GetId()] {
				sum += s.GetTotalSynced()
			}
		}
		if token = res.GetNextPageToken(); token == "" {
			return sum, nil
		}
	}
}

// queueDepth reads chatsync_session_queue_depth (summed over providers)
// from /metrics.
func queueDepth(ctx context.Context, hc *http.Client, url, token string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", res.Status)
	}
	sum, found := 0.0, false
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "chatsync_session_queue_depth{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return 0, cmp.Or(sc.Err(), errors.New("/metrics has no chatsync_session_queue_depth"))
	}
	return int(sum), nil
}

type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
