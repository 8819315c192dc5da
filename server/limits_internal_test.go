package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
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
