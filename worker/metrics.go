package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatsync/chatsync"
)

// Metrics are the worker's Prometheus figures.
type Metrics struct {
	batches       *prometheus.CounterVec
	chats         prometheus.Counter
	duration      *prometheus.HistogramVec
	publishErrors prometheus.Counter
	yielded       prometheus.Counter
}

// NewMetrics registers the worker's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatsync_sync_batches_total", Help: "Sync batches finished, by kind and outcome (completed, failed).",
		}, []string{"kind", "outcome"}),
		chats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatsync_sync_chats_written_total", Help: "Chats written by completed sync batches.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "chatsync_sync_batch_duration_seconds", Help: "Time from acceptance to completion of sync batches.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}, []string{"kind"}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatsync_event_publish_errors_total", Help: "Realtime events that could not be published.",
		}),
		yielded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatsync_worker_yield_seconds_total",
			Help: "Time history batches paused between chunks because the API's calls were slow (CHATSYNC_YIELD_LATENCY).",
		}),
	}
	reg.MustRegister(m.batches, m.chats, m.duration, m.publishErrors, m.yielded)
	return m
}

func (m *Metrics) batchDone(b chatsync.Batch, outcome string, written int, finished time.Time) {
	if m == nil {
		return
	}
	m.batches.WithLabelValues(string(b.Kind), outcome).Inc()
	m.chats.Add(float64(written))
	if !finished.IsZero() {
		m.duration.WithLabelValues(string(b.Kind)).Observe(finished.Sub(b.CreatedAt).Seconds())
	}
}

func (m *Metrics) publishFailed(n int) {
	if m == nil {
		return
	}
	m.publishErrors.Add(float64(n))
}

func (m *Metrics) yieldedFor(d time.Duration) {
	if m == nil {
		return
	}
	m.yielded.Add(d.Seconds())
}
