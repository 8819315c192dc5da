package simulate

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// WriteText writes the summary for a terminal.
func (s Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "history: %d chats (%d messages) in %d batches in %s: %.0f chats/s\n",
		s.Chats, s.Messages, s.Batches, s.HistoryDuration.Round(time.Millisecond), s.ChatsPerSecond)
	fmt.Fprintf(&b, "server: %d accepted, %d rejected, %d duplicate batches\n", s.Accepted, s.Rejected, s.Duplicates)
	fmt.Fprintf(&b, "latency: %s\n", s.Latency)
	if s.LiveLatency.Count > 0 || s.LiveMessages > 0 {
		fmt.Fprintf(&b, "live: %d messages in %d batches in %s, latency %s\n", s.LiveMessages, s.LiveBatches, s.LiveDuration.Round(time.Millisecond), s.LiveLatency)
	}
	fmt.Fprintf(&b, "errors: %d failed batches, %d retries", s.FailedBatches, s.Retries)
	for _, code := range slices.Sorted(maps.Keys(s.Errors)) {
		fmt.Fprintf(&b, ", %s %d", code, s.Errors[code])
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// String formats the percentiles, e.g. "p50 12ms p95 30ms p99 41ms (max 55ms, n=400)".
func (l Latency) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("p50 %s p95 %s p99 %s (max %s, n=%d)", r(l.P50), r(l.P95), r(l.P99), r(l.Max), l.Count)
}

// ProgressBar returns a Progress callback that redraws one line on w:
// "history [########------------]  40/100 batches  2000 chats  0 failed  1.2s".
func ProgressBar(w io.Writer, width int) func(Progress) {
	return func(p Progress) {
		filled := 0
		if p.Total > 0 {
			filled = p.Done * width / p.Total
		}
		bar := strings.Repeat("#", filled) + strings.Repeat("-", width-filled)
		end := ""
		if p.Done == p.Total {
			end = "\n"
		}
		fmt.Fprintf(w, "\r%-7s [%s] %*d/%d batches  %d chats  %d failed  %s%s",
			p.Phase, bar, len(fmt.Sprint(p.Total)), p.Done, p.Total, p.ChatsSent, p.Failed, p.Elapsed.Round(100*time.Millisecond), end)
	}
}
