package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync/worker/tasks"
)

// ServerParams configures the Asynq server that runs a Processor.
type ServerParams struct {
	// Redis is the queue's Redis connection.
	Redis redis.UniversalClient
	// Log receives Asynq's own warnings and errors.
	Log *slog.Logger
	// Concurrency is how many tasks run at once (default 16).
	Concurrency int
	// RetryBase is the wait before the first retry; each further retry
	// waits twice as long (default 10 s).
	RetryBase time.Duration
	// ShutdownTimeout is how long Shutdown waits for running tasks
	// (default 25 s); the rest are retried later.
	ShutdownTimeout time.Duration
	// DelayedTaskCheckInterval is how often retries that are due move back
	// to their queue (default 1 s).
	DelayedTaskCheckInterval time.Duration
	// BaseContext is the parent of every task's context (default
	// context.Background).
	BaseContext func() context.Context
}

// NewServer returns the Asynq server of chatsync's queues: live strictly
// before backfill, so a new message never waits behind a history import,
// and exponential backoff between attempts.
func NewServer(p ServerParams) *asynq.Server {
	if p.Concurrency <= 0 {
		p.Concurrency = 16
	}
	if p.RetryBase <= 0 {
		p.RetryBase = 10 * time.Second
	}
	if p.ShutdownTimeout <= 0 {
		p.ShutdownTimeout = 25 * time.Second
	}
	if p.DelayedTaskCheckInterval <= 0 {
		p.DelayedTaskCheckInterval = time.Second
	}
	base := p.RetryBase
	return asynq.NewServerFromRedisClient(p.Redis, asynq.Config{
		Concurrency:    p.Concurrency,
		Queues:         tasks.Queues(),
		StrictPriority: true,
		RetryDelayFunc: func(n int, _ error, _ *asynq.Task) time.Duration {
			return RetryDelay(base, n)
		},
		Logger:                   asynqLogger{p.Log.With(slog.String("component", "asynq"))},
		LogLevel:                 asynq.WarnLevel,
		ShutdownTimeout:          p.ShutdownTimeout,
		DelayedTaskCheckInterval: p.DelayedTaskCheckInterval,
		// An idle worker looks for tasks this often; asynq's default (1 s)
		// would add up to a second to a live message's way to the screen.
		TaskCheckInterval: 100 * time.Millisecond,
		BaseContext:       p.BaseContext,
	})
}

// RetryDelay is the wait before retry n+1 (n counts the retries so far):
// base, 2·base, 4·base, … capped at 2^16·base.
func RetryDelay(base time.Duration, n int) time.Duration {
	return base << min(max(n, 0), 16)
}

// Mux routes chatsync's task types to the processor.
func (p *Processor) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSyncBatch, p.HandleSyncBatch)
	return mux
}

// AsynqLogger sends asynq's logs to log.
func AsynqLogger(log *slog.Logger) asynq.Logger { return asynqLogger{log} }

// asynqLogger adapts slog to asynq.Logger.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) } //nolint:sloglint // adapter: asynq logs untyped messages
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }  //nolint:sloglint // adapter: asynq logs untyped messages
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }  //nolint:sloglint // adapter: asynq logs untyped messages
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) } //nolint:sloglint // adapter: asynq logs untyped messages

// Fatal is asynq's "cannot go on" (it calls it when Redis is unusable at
// start); the contract is to exit.
func (l asynqLogger) Fatal(args ...any) {
	l.log.Error(fmt.Sprint(args...)) //nolint:sloglint // adapter, as above
	os.Exit(1)
}
