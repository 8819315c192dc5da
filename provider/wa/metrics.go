package wa

import "github.com/prometheus/client_golang/prometheus"

// Skip labels: the reasons history leaves data out, as metric labels.
const (
	skipOverMaxChats  = "over_max_chats"
	skipOutsideWindow = "outside_window"
	skipInvalid       = "invalid"
	skipNotAChat      = "not_a_chat"
)

func skipLabel(reason string) string {
	switch reason {
	case ReasonOverMaxChats:
		return skipOverMaxChats
	case ReasonOutOfWindow:
		return skipOutsideWindow
	case ReasonNotAChat:
		return skipNotAChat
	}
	return skipInvalid
}

// Metrics are the whatsmeow sessions' Prometheus figures: what history
// left out by the sessions' limits, and history blobs lost. A nil *Metrics
// records nothing.
type Metrics struct {
	skippedChats    *prometheus.CounterVec
	skippedMessages *prometheus.CounterVec
	lostBlobs       prometheus.Counter
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		skippedChats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatsync_wa_history_skipped_chats_total",
			Help: "History chats (and contacts) left out, by reason: over_max_chats, outside_window, invalid, not_a_chat.",
		}, []string{"reason"}),
		skippedMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatsync_wa_history_skipped_messages_total",
			Help: "History messages left out, by reason: outside_window (older than sync_window_days), or with their chat.",
		}, []string{"reason"}),
		lostBlobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chatsync_wa_history_blobs_lost_total",
			Help: "History blobs that could never be downloaded or decoded (WhatsApp no longer serves them).",
		}),
	}
	for _, l := range []string{skipOverMaxChats, skipOutsideWindow, skipInvalid, skipNotAChat} {
		m.skippedChats.WithLabelValues(l)
		m.skippedMessages.WithLabelValues(l)
	}
	reg.MustRegister(m.skippedChats, m.skippedMessages, m.lostBlobs)
	return m
}

func (m *Metrics) skipped(label string, messages int) {
	if m == nil {
		return
	}
	m.skippedChats.WithLabelValues(label).Inc()
	m.skippedMessages.WithLabelValues(label).Add(float64(messages))
}

func (m *Metrics) oldMessages(n int) {
	if m == nil || n == 0 {
		return
	}
	m.skippedMessages.WithLabelValues(skipOutsideWindow).Add(float64(n))
}

func (m *Metrics) blobLost() {
	if m == nil {
		return
	}
	m.lostBlobs.Inc()
}
