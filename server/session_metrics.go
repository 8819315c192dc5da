package server

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker/tasks"
)

// The GetSessionHealth figures as Prometheus metrics. Labels are bounded:
// provider (3 values), status (7), queue (2) and task state (5); there is
// no session or workspace label, since their number grows with customers.
// Per-session figures are GetSessionHealth's. Each scrape computes the
// figures from sync_batches and the Asynq queues, so every server replica
// reports the same cluster-wide values (aggregate with max, not sum).

// healthStore is what the metrics read of the store.
type healthStore interface {
	SessionCounts(ctx context.Context) ([]store.SessionCount, error)
	ProviderBatchFigures(ctx context.Context, since time.Time) (map[chatsync.Provider]store.BatchFigures, error)
}

// queueInspector reads Asynq queue figures (asynq.Inspector).
type queueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

var providersList = []chatsync.Provider{chatsync.ProviderWhatsmeow, chatsync.ProviderWebJS, chatsync.ProviderMetaCloud}

var (
	descSessions = prometheus.NewDesc("chatsync_sessions",
		"Sessions by provider and connection status.", []string{"provider", "status"}, nil)
	descTotalSynced = prometheus.NewDesc("chatsync_sessions_synced_chats",
		"Chats written by completed batches, summed over the sessions of a provider (GetSessionHealth sync.total_synced).", []string{"provider"}, nil)
	descQueueDepth = prometheus.NewDesc("chatsync_session_queue_depth",
		"Sync batches accepted but not finished (queued, processing, retrying), by provider (queue.depth).", []string{"provider"}, nil)
	descFailedJobs = prometheus.NewDesc("chatsync_session_failed_jobs",
		"Sync batches that failed after all attempts within the window, by provider (queue.failed_jobs).", []string{"provider"}, nil)
	descRate = prometheus.NewDesc("chatsync_session_processing_rate_per_minute",
		"Sync batches finished per minute over the window, by provider (queue.processing_rate).", []string{"provider"}, nil)
	descAvgDuration = prometheus.NewDesc("chatsync_session_sync_duration_avg_seconds",
		"Mean time from acceptance to the end of processing of batches finished within the window (performance.avg_sync_duration).", []string{"provider"}, nil)
	descSuccess = prometheus.NewDesc("chatsync_session_success_ratio",
		"Fraction of batches finished within the window that completed (performance.success_rate).", []string{"provider"}, nil)
	descError = prometheus.NewDesc("chatsync_session_error_ratio",
		"Fraction of batches finished within the window that failed (performance.error_rate).", []string{"provider"}, nil)
	descWindow = prometheus.NewDesc("chatsync_health_window_seconds",
		"The window of the chatsync_session_* rates and ratios.", nil, nil)
	descQueueTasks = prometheus.NewDesc("chatsync_queue_tasks",
		"Asynq tasks by queue and state.", []string{"queue", "state"}, nil)
	descQueueProcessed = prometheus.NewDesc("chatsync_queue_processed_total",
		"Asynq tasks processed (succeeded or failed) since the queue was created.", []string{"queue"}, nil)
	descQueueFailed = prometheus.NewDesc("chatsync_queue_failed_total",
		"Asynq task attempts that failed since the queue was created.", []string{"queue"}, nil)
	descScrapeErrors = prometheus.NewDesc("chatsync_health_scrape_errors",
		"Sources the last scrape could not read (1 each: store, queue).", []string{"source"}, nil)
)

// healthCollector computes the metrics at scrape time.
type healthCollector struct {
	store   healthStore
	queues  queueInspector
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
}

var _ prometheus.Collector = (*healthCollector)(nil)

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSessions, descTotalSynced, descQueueDepth, descFailedJobs, descRate,
		descAvgDuration, descSuccess, descError, descWindow, descQueueTasks, descQueueProcessed, descQueueFailed, descScrapeErrors} {
		ch <- d
	}
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descWindow, healthWindow.Seconds())
	storeErr, queueErr := 0.0, 0.0
	if err := c.collectStore(ctx, gauge); err != nil {
		storeErr = 1
		c.log.WarnContext(ctx, "metrics: read store", slog.String("error", err.Error()))
	}
	if c.queues != nil {
		// A queue nothing was enqueued on yet does not exist.
		existing, err := c.queues.Queues()
		if err != nil {
			queueErr = 1
			c.log.WarnContext(ctx, "metrics: list queues", slog.String("error", err.Error()))
		}
		for _, q := range []string{tasks.QueueLive, tasks.QueueBackfill} {
			if !slices.Contains(existing, q) {
				continue
			}
			info, err := c.queues.GetQueueInfo(q)
			if err != nil {
				queueErr = 1
				c.log.WarnContext(ctx, "metrics: read queue", slog.String("queue", q), slog.String("error", err.Error()))
				continue
			}
			for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled, "retry": info.Retry, "archived": info.Archived} {
				gauge(descQueueTasks, float64(n), q, state)
			}
			ch <- prometheus.MustNewConstMetric(descQueueProcessed, prometheus.CounterValue, float64(info.ProcessedTotal), q)
			ch <- prometheus.MustNewConstMetric(descQueueFailed, prometheus.CounterValue, float64(info.FailedTotal), q)
		}
	}
	gauge(descScrapeErrors, storeErr, "store")
	gauge(descScrapeErrors, queueErr, "queue")
}

func (c *healthCollector) collectStore(ctx context.Context, gauge func(*prometheus.Desc, float64, ...string)) error {
	counts, err := c.store.SessionCounts(ctx)
	if err != nil {
		return err
	}
	synced := make(map[chatsync.Provider]int64)
	for _, sc := range counts {
		gauge(descSessions, float64(sc.Count), string(sc.Provider), string(sc.Status))
		synced[sc.Provider] += sc.TotalSynced
	}
	figures, err := c.store.ProviderBatchFigures(ctx, c.now().Add(-healthWindow))
	if err != nil {
		return err
	}
	for _, p := range providersList {
		f := figures[p]
		success, failure := ratios(f)
		gauge(descTotalSynced, float64(synced[p]), string(p))
		gauge(descQueueDepth, float64(f.Pending), string(p))
		gauge(descFailedJobs, float64(f.Failed), string(p))
		gauge(descRate, processingRate(f), string(p))
		gauge(descAvgDuration, f.AvgDuration.Seconds(), string(p))
		gauge(descSuccess, success, string(p))
		gauge(descError, failure, string(p))
	}
	return nil
}
