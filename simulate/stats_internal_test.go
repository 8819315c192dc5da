package simulate

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestLatencyOf(t *testing.T) {
	t.Parallel()
	ms := func(n int) []time.Duration {
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = time.Duration(i+1) * time.Millisecond
		}
		// Shuffled: LatencyOf must sort.
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		return ds
	}
	tests := []struct {
		name string
		in   []time.Duration
		want Latency
	}{
		{name: "empty", in: nil, want: Latency{}},
		{name: "one", in: []time.Duration{7 * time.Millisecond}, want: Latency{Count: 1, Mean: 7 * time.Millisecond, P50: 7 * time.Millisecond, P95: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		// Nearest rank over 1..100 ms: the p-th value is p ms.
		{name: "1 to 100 ms", in: ms(100), want: Latency{Count: 100, Mean: 50500 * time.Microsecond, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
		// Over 1..10 ms: ceil(0.95·10) = 10th value, ceil(0.5·10) = 5th.
		{name: "1 to 10 ms", in: ms(10), want: Latency{Count: 10, Mean: 5500 * time.Microsecond, P50: 5 * time.Millisecond, P95: 10 * time.Millisecond, P99: 10 * time.Millisecond, Max: 10 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := LatencyOf(tt.in); got != tt.want {
				t.Errorf("LatencyOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}
