package load

import (
	"testing"
	"time"
)

func TestStages(t *testing.T) {
	st, err := ParseStages(DefaultStages)
	if err != nil || len(st) != 3 || st[1] != (Stage{5 * time.Minute, 100}) {
		t.Fatalf("ParseStages(%q) = %v, %v", DefaultStages, st, err)
	}
	for _, bad := range []string{"", "2m", "x:1", "2m:-1", "0s:5", "1m:20000"} {
		if _, err := ParseStages(bad); err == nil {
			t.Errorf("ParseStages(%q) succeeded", bad)
		}
	}
	for _, tt := range []struct {
		at   time.Duration
		want int
		over bool
	}{
		{0, 0, false}, {time.Minute, 25, false}, {2 * time.Minute, 50, false}, {4*time.Minute + 30*time.Second, 75, false},
		{7 * time.Minute, 100, false}, {8 * time.Minute, 50, false}, {9 * time.Minute, 0, true},
	} {
		if n, over := targetAt(st, tt.at); n != tt.want || over != tt.over {
			t.Errorf("targetAt(%s) = %d, %v; want %d, %v", tt.at, n, over, tt.want, tt.over)
		}
	}
}

func TestStageAt(t *testing.T) {
	st, _ := ParseStages("1m:10,2m:10,30s:0")
	for _, tt := range []struct {
		at   time.Duration
		want int
	}{{0, 0}, {59 * time.Second, 0}, {time.Minute, 1}, {3*time.Minute - 1, 1}, {3 * time.Minute, 2}, {time.Hour, 2}} {
		if got := stageAt(st, tt.at); got != tt.want {
			t.Errorf("stageAt(%s) = %d, want %d", tt.at, got, tt.want)
		}
	}
}

func TestLatencyOf(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond)
	}
	l := latencyOf(ds)
	if l.Count != 100 || l.P50 != 50*time.Millisecond || l.P95 != 95*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Errorf("latencyOf = %+v", l)
	}
	if (latencyOf(nil) != Latency{}) {
		t.Error("no calls, yet a latency")
	}
}
