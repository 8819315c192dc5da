package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
)

// bodyDeadline gives every request d to send its body: a client that
// trickles a body is cut off at d instead of holding its connection and
// buffers. The deadline ends once the body is read to its end, so a
// server stream (a small request, then a long answer) is not cut.
func bodyDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil && r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody clears the read deadline at the body's end.
type deadlineBody struct {
	io.ReadCloser
	clear func()
	once  sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.clear)
	}
	return n, err
}

// streamLimiter bounds the server streams one API token holds open on
// this server.
type streamLimiter struct {
	max  int
	mu   sync.Mutex
	open map[[sha256.Size]byte]int
}

func newStreamLimiter(max int) *streamLimiter {
	return &streamLimiter{max: max, open: map[[sha256.Size]byte]int{}}
}

// acquire counts a stream of the token key, or refuses it with
// resource_exhausted past the limit; release must follow a nil error.
func (l *streamLimiter) acquire(key [sha256.Size]byte) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key] >= l.max {
		return nil, connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("limit of %d open streams per API token reached (CHATSYNC_STREAMS_PER_TOKEN); close one first", l.max))
	}
	l.open[key]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.open[key]--; l.open[key] == 0 {
			delete(l.open, key)
		}
	}, nil
}
