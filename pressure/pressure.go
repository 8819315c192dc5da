// Package pressure carries the API's latency to the batch workers, so
// backfill writes give way to interactive calls when those slow down
// (issue 27: "the worker yielding when request latency rises").
//
// A server measures its unary calls (Gauge.Observe) as a moving average
// and publishes it to Redis twice a second, one hash field per server
// process. A worker reads the freshest figures (Reader.High) and, while
// any server's average is above the threshold, pauses between the chunks
// of a history batch (Reader.Yield) for a bounded time, so backfill slows
// down and never stops. Live batches do not yield: they are interactive
// too.
//
// It goes through Redis, not memory, so that servers and workers in
// separate processes (--role server / --role worker) see each other; a
// process running both roles takes the same path.
package pressure

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Key is the Redis hash of the servers' latency figures: field = server
// instance, value = "<average µs>:<unix ms of the reading>".
const Key = "chatsync:pressure:api"

// Interval is how often a server publishes and a worker reads.
const Interval = 500 * time.Millisecond

// stale: a reading older than this is ignored (its server stopped or
// cannot reach Redis), and removed once much older.
const stale = 3 * Interval

// alpha is the moving average's weight of a new call: about the last 20
// calls count.
const alpha = 0.05

// Gauge is a server's moving average of its unary calls' latency.
type Gauge struct {
	mu  sync.Mutex
	avg float64 // seconds
	n   int
}

// Observe records one call's latency.
func (g *Gauge) Observe(d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := d.Seconds()
	if g.n < 20 { // until the average has history, a plain mean
		g.n++
		g.avg += (s - g.avg) / float64(g.n)
		return
	}
	g.avg += alpha * (s - g.avg)
}

// Average is the moving average; 0 before the first call.
func (g *Gauge) Average() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return time.Duration(g.avg * float64(time.Second))
}

// Publish writes the gauge's average under instance every Interval until
// ctx ends. A Redis error is retried at the next tick: workers ignore a
// stale reading, so an outage means "no pressure", never a stuck worker.
func (g *Gauge) Publish(ctx context.Context, rdb redis.UniversalClient, instance string) {
	t := time.NewTicker(Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			rdb.HDel(c, Key, instance)
			cancel()
			return
		case now := <-t.C:
			c, cancel := context.WithTimeout(ctx, Interval)
			rdb.HSet(c, Key, instance, encode(g.Average(), now))
			cancel()
		}
	}
}

func encode(avg time.Duration, at time.Time) string {
	return strconv.FormatInt(avg.Microseconds(), 10) + ":" + strconv.FormatInt(at.UnixMilli(), 10)
}

func decode(v string) (avg time.Duration, at time.Time, err error) {
	a, b, ok := strings.Cut(v, ":")
	if !ok {
		return 0, time.Time{}, fmt.Errorf("pressure reading %q: want avg:time", v)
	}
	us, err1 := strconv.ParseInt(a, 10, 64)
	ms, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, time.Time{}, fmt.Errorf("pressure reading %q: want numbers", v)
	}
	return time.Duration(us) * time.Microsecond, time.UnixMilli(ms), nil
}

// Reader is a worker's view of the servers' latency.
type Reader struct {
	rdb       redis.UniversalClient
	threshold time.Duration
	// maxPause bounds one Yield: backfill slows down, never stops.
	maxPause time.Duration
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error

	mu     sync.Mutex
	readAt time.Time
	worst  time.Duration
}

// NewReader returns a Reader for which a server average above threshold
// is pressure; a Yield pauses at most maxPause. threshold <= 0 disables
// yielding.
func NewReader(rdb redis.UniversalClient, threshold, maxPause time.Duration) *Reader {
	return &Reader{rdb: rdb, threshold: threshold, maxPause: maxPause, now: time.Now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Worst is the highest fresh server average, read from Redis at most
// once per Interval. A Redis error reads as no pressure.
func (r *Reader) Worst(ctx context.Context) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.readAt) < Interval {
		return r.worst
	}
	r.readAt = now
	r.worst = 0
	c, cancel := context.WithTimeout(ctx, Interval)
	defer cancel()
	all, err := r.rdb.HGetAll(c, Key).Result()
	if err != nil {
		return 0
	}
	for field, v := range all {
		avg, at, err := decode(v)
		switch {
		case err != nil || now.Sub(at) > 100*stale:
			r.rdb.HDel(c, Key, field) // a dead server's or garbage
		case now.Sub(at) <= stale:
			r.worst = max(r.worst, avg)
		}
	}
	return r.worst
}

// High reports whether a server's calls are slower than the threshold.
func (r *Reader) High(ctx context.Context) bool {
	return r != nil && r.threshold > 0 && r.Worst(ctx) > r.threshold
}

// Yield pauses while the servers are under pressure, for at most
// maxPause, in steps of a tenth of it. It returns how long it paused and
// ctx's error if ctx ended.
func (r *Reader) Yield(ctx context.Context) (time.Duration, error) {
	if r == nil || r.threshold <= 0 || r.maxPause <= 0 {
		return 0, nil
	}
	step := max(r.maxPause/10, time.Millisecond)
	var paused time.Duration
	for paused < r.maxPause && r.High(ctx) {
		if err := r.sleep(ctx, step); err != nil {
			return paused, err
		}
		paused += step
		// The reading refreshes once per Interval; force it so the pause
		// ends as soon as the servers recover.
		r.mu.Lock()
		r.readAt = time.Time{}
		r.mu.Unlock()
	}
	return paused, nil
}
