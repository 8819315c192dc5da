package simulate

import (
	"slices"
	"time"
)

// Latency summarises call latencies.
type Latency struct {
	Count int
	Mean  time.Duration
	P50   time.Duration
	P95   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// LatencyOf computes nearest-rank percentiles of ds (which it sorts); the
// load command uses it too.
func LatencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		Count: len(ds),
		Mean:  sum / time.Duration(len(ds)),
		P50:   rank(ds, 50),
		P95:   rank(ds, 95),
		P99:   rank(ds, 99),
		Max:   ds[len(ds)-1],
	}
}

// rank is the nearest-rank percentile p of sorted ds: the smallest value
// with at least p % of the values at or below it.
func rank(sorted []time.Duration, p int) time.Duration {
	n := (p*len(sorted) + 99) / 100 // ceil(p/100 · len)
	return sorted[max(n, 1)-1]
}
