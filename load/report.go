package load

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// WriteText writes the report for a person.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "load: %s, peak %d users\n", r.Duration.Round(time.Second), r.PeakUsers)
	fmt.Fprintf(&b, "SyncBatch: %s\n", r.Sync)
	fmt.Fprintf(&b, "ListChats: %s\n", r.List)
	if len(r.Failures) == 0 {
		b.WriteString("failures: 0\n")
	} else {
		fmt.Fprintf(&b, "failures: %d (", r.Failed())
		for i, k := range slices.Sorted(maps.Keys(r.Failures)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %d", k, r.Failures[k])
		}
		b.WriteString(")\n")
	}
	if len(r.Stages) > 1 {
		for i, st := range r.Stages {
			fmt.Fprintf(&b, "stage %d (%s to %d users): SyncBatch p95 %s p99 %s, ListChats p95 %s p99 %s, %d failed\n",
				i+1, st.Stage.Duration, st.Stage.Target, ms(st.Sync.P95), ms(st.Sync.P99), ms(st.List.P95), ms(st.List.P99), st.Failures)
		}
	}
	fmt.Fprintf(&b, "chats: %d accepted, %d synced\n", r.ChatsAccepted, r.ChatsSynced)
	if r.PeakQueueDepth < 0 {
		b.WriteString("queue: peak depth not measured (no operator token)\n")
	} else {
		fmt.Fprintf(&b, "queue: peak depth %d batches\n", r.PeakQueueDepth)
	}
	if r.Drained {
		fmt.Fprintf(&b, "drain: %s after the last call\n", r.Drain.Round(time.Millisecond))
	} else {
		fmt.Fprintf(&b, "drain: not drained %s after the last call\n", r.Drain.Round(time.Millisecond))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func (l Latency) String() string {
	return fmt.Sprintf("%d calls, p50 %s, p95 %s, p99 %s, max %s", l.Count, ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
}
