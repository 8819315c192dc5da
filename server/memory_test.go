// The race detector's shadow memory roughly doubles the figures, so this
// measure runs without it: the test task runs it in a pass of its own.

//go:build !race

package server_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/signing"
)

// peakRSS is this process's peak resident set (VmHWM), in bytes.
func peakRSS(t *testing.T) int64 {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("read /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// TestUnauthenticatedBodiesCostNoMemory drives 100 concurrent 9 MiB
// requests without valid credentials at the real server: token-less calls
// with a raw body, token-less calls with a gzip bomb (9 MiB of zeros in
// about 9 KB), and calls signed for an existing session with a wrong
// secret. Token-less bodies are never read; signed ones are read within
// the server-wide byte budget. The process's peak RSS (server and client
// share it) grows by less than 100 MiB (about 60 MiB with a 16 MiB
// budget); without the token gate and the budget the same run grew it by
// 1,130 MiB, and token-less bodies were read and decoded.
func TestUnauthenticatedBodiesCostNoMemory(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.MaxBufferedBytes = 16 << 20 }})
	_, token := env.Workspace(t, "mem")
	a := createSidecar(t, env.Clients(token), "a", nil)

	raw := make([]byte, 9<<20)
	_, _ = rand.Read(raw)
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	_, _ = zw.Write(make([]byte, 9<<20))
	_ = zw.Close()

	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak RSS: %v", err)
	}
	before := peakRSS(t)

	kinds := []string{"token-less", "gzip bomb", "wrong signature"}
	statuses := make([]map[int]int, len(kinds))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 100 {
		kind := i % len(kinds)
		wg.Go(func() {
			body := raw
			if kind == 1 {
				body = bomb.Bytes()
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, env.URL+"/chatsync.v1.SyncService/SyncBatch", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/proto")
			switch kind {
			case 1:
				req.Header.Set("Content-Encoding", "gzip")
			case 2:
				ts := time.Now().Unix()
				req.Header.Set(signing.HeaderSession, a.id)
				req.Header.Set(signing.HeaderTimestamp, fmt.Sprint(ts))
				req.Header.Set(signing.HeaderSignature, signing.Sign([]byte(strings.Repeat("0", 64)), ts, body))
			}
			res, err := env.HTTP.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			mu.Lock()
			if statuses[kind] == nil {
				statuses[kind] = map[int]int{}
			}
			statuses[kind][res.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	grew := peakRSS(t) - before
	t.Logf("peak RSS grew by %d MiB; answers %v", grew>>20, statuses)
	for k, name := range kinds {
		for code := range statuses[k] {
			if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
				t.Errorf("%s: answered %d", name, code)
			}
		}
	}
	if statuses[0][http.StatusUnauthorized] == 0 || statuses[1][http.StatusUnauthorized] == 0 {
		t.Errorf("token-less calls were not refused as unauthenticated: %v", statuses)
	}
	if grew >= 100<<20 {
		t.Fatalf("peak RSS grew by %d MiB, want < 100", grew>>20)
	}
}
