package bench_test

import (
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// cpuMeter attributes the CPU time of a run to its parts: this process
// (server and callers), the PostgreSQL backends of the bench database, and
// Redis (which other tests on the machine may share). The worker's own time
// comes from its process state.
type cpuMeter struct {
	db    *sql.DB
	rdb   *redis.Client
	self0 time.Duration
	pg0   map[int]float64
	rd0   float64

	self, postgres, redis float64 // seconds, set by stop
}

func startCPU(b *testing.B, db *sql.DB, rdb *redis.Client) *cpuMeter {
	b.Helper()
	m := &cpuMeter{db: db, rdb: rdb, self0: selfCPU(), pg0: m0(b, db)}
	if rdb != nil {
		m.rd0 = redisCPU(b, rdb)
	}
	return m
}

func m0(b *testing.B, db *sql.DB) map[int]float64 {
	b.Helper()
	out := map[int]float64{}
	rows, err := db.QueryContext(b.Context(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		out[pid] = procCPU(pid)
	}
	return out
}

func (m *cpuMeter) stop(b *testing.B) {
	b.Helper()
	m.self = (selfCPU() - m.self0).Seconds()
	for pid, t := range m0(b, m.db) {
		m.postgres += t - m.pg0[pid]
	}
	if m.rdb != nil {
		m.redis = redisCPU(b, m.rdb) - m.rd0
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is a process's user+system time in seconds, from /proc.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func redisCPU(b *testing.B, rdb *redis.Client) float64 {
	b.Helper()
	info, err := rdb.Info(b.Context(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}
