package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/chatsync/chatsync/pressure"
)

// Calls in flight are bounded per caller and server-wide, streams aside,
// and bodies count against the byte budget by their declared length.
func TestAdmission(t *testing.T) {
	release := make(chan struct{})
	var entered sync.WaitGroup
	a := newAdmission(3, 2, 100)
	h := a.wrap(a.budget(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hold") != "" {
			entered.Done()
			<-release
		}
	})))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var retryAfter string
	call := func(path, auth, body string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		retryAfter = res.Header.Get("Retry-After")
		return res.StatusCode
	}
	held := func(path, auth string) {
		entered.Add(1)
		req, err := http.NewRequest(http.MethodPost, srv.URL+path, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Hold", "1")
		go func() {
			if res, err := srv.Client().Do(req); err == nil {
				res.Body.Close()
			}
		}()
	}
	held("/chatsync.v1.SessionService/ListSessions", "Bearer a")
	held("/chatsync.v1.SessionService/ListSessions", "Bearer a")
	entered.Wait()
	if got := call("/chatsync.v1.SessionService/ListSessions", "Bearer a", ""); got != http.StatusTooManyRequests {
		t.Errorf("the caller's third call: %d, want 429", got)
	}
	if retryAfter != "1" {
		t.Errorf("the refusal's Retry-After: %q, want 1 (second)", retryAfter)
	}
	if got := call("/chatsync.v1.ChatService/StreamChatUpdates", "Bearer a", ""); got != http.StatusOK {
		t.Errorf("a stream is not a call in flight: %d", got)
	}
	held("/chatsync.v1.SessionService/ListSessions", "Bearer b")
	entered.Wait()
	if got := call("/chatsync.v1.SessionService/ListSessions", "Bearer c", ""); got != http.StatusTooManyRequests {
		t.Errorf("a fourth call server-wide: %d, want 429", got)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for a.inFlight.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := call("/chatsync.v1.SessionService/ListSessions", "Bearer a", strings.Repeat("x", 101)); got != http.StatusTooManyRequests {
		t.Errorf("a body over the byte budget: %d, want 429", got)
	}
	if got := call("/chatsync.v1.SessionService/ListSessions", "Bearer a", strings.Repeat("x", 100)); got != http.StatusOK {
		t.Errorf("a body within the byte budget: %d", got)
	}
	if n := a.bytes.Load(); n != 0 {
		t.Errorf("%d bytes still counted after the calls ended", n)
	}
}

// The admitted calls feed the latency gauge the workers yield to, except
// SyncBatch, whose duration is the sender's upload as much as the
// server's work; a refusal carries its retry hint as a RetryInfo detail.
func TestAdmissionLatencyAndRetryHint(t *testing.T) {
	a := newAdmission(10, 10, 1<<20)
	a.latency = new(pressure.Gauge)
	h := a.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
	}))
	serve := func(path string) {
		req := httptest.NewRequest(http.MethodPost, path, http.NoBody)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	serve("/chatsync.v1.SyncService/SyncBatch")
	serve("/metrics")
	serve("/assets/index.js")
	if got := a.latency.Average(); got != 0 {
		t.Fatalf("SyncBatch, /metrics or a web file observed: %v", got)
	}
	serve("/chatsync.v1.ChatService/ListChats")
	if got := a.latency.Average(); got < 5*time.Millisecond {
		t.Fatalf("ListChats observed as %v, want its 5 ms at least", got)
	}

	e := withRetryHint(connect.NewError(connect.CodeResourceExhausted, errors.New("busy")), 1500*time.Millisecond)
	if got := e.Meta().Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After of 1.5 s: %q, want 2 (whole seconds, rounded up)", got)
	}
	var delay time.Duration
	for _, d := range e.Details() {
		if v, err := d.Value(); err == nil {
			if ri, ok := v.(*errdetails.RetryInfo); ok {
				delay = ri.GetRetryDelay().AsDuration()
			}
		}
	}
	if delay != 1500*time.Millisecond {
		t.Errorf("RetryInfo delay: %v, want 1.5s", delay)
	}
}
