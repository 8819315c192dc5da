package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chatsync/chatsync/pressure"
	"github.com/chatsync/chatsync/signing"
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

// errBufferFull: the server holds as many request bytes as it may.
var errBufferFull = errors.New("the server is holding as many request bytes as it may; retry shortly")

// admission bounds the calls a server works on, before anything else
// (authentication included) touches them: calls in flight server-wide and
// per caller, and request body bytes read into memory server-wide. Past a
// bound the answer is resource_exhausted at once. Long-lived streams are
// not counted as in flight (StreamsPerToken bounds them).
type admission struct {
	maxInFlight, maxPerCaller int
	maxBytes                  int64
	errw                      *connect.ErrorWriter
	// latency, when set, observes the duration of the API calls admitted
	// (observed).
	latency *pressure.Gauge

	inFlight atomic.Int64
	bytes    atomic.Int64
	mu       sync.Mutex
	callers  map[string]int
}

func newAdmission(maxInFlight, maxPerCaller int, maxBytes int64) *admission {
	return &admission{maxInFlight: maxInFlight, maxPerCaller: maxPerCaller, maxBytes: maxBytes,
		errw: connect.NewErrorWriter(), callers: map[string]int{}}
}

// observed says whether a call's duration feeds the latency the workers
// yield to: the API's calls (not the web client's files, /metrics or the
// Asynq UI), SyncBatch aside (its duration is the sender's upload as much
// as the server's work).
func observed(path string) bool {
	return strings.HasPrefix(path, "/chatsync.v1.") && !strings.HasSuffix(path, "/SyncBatch")
}

// streaming are the procedures whose calls last as long as a client
// listens.
func streaming(path string) bool {
	for _, p := range []string{"/StreamChatUpdates", "/WatchCommands", "/PairSession"} {
		if strings.HasSuffix(path, p) {
			return true
		}
	}
	return false
}

// callerKey names a caller by the credentials it presents (verified or
// not): its signed session, or a hash of its Authorization header.
func callerKey(h http.Header) string {
	if s := h.Get(signing.HeaderSession); s != "" {
		return "session:" + s
	}
	sum := sha256.Sum256([]byte(h.Get("Authorization")))
	return string(sum[:])
}

func (a *admission) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !streaming(r.URL.Path) {
			if n := a.inFlight.Add(1); n > int64(a.maxInFlight) {
				a.inFlight.Add(-1)
				a.refuse(w, r, fmt.Errorf("server busy: %d calls in flight, the most it takes; retry shortly", a.maxInFlight))
				return
			}
			defer a.inFlight.Add(-1)
			key := callerKey(r.Header)
			if !a.enter(key) {
				a.refuse(w, r, fmt.Errorf("limit of %d calls in flight per caller reached; retry shortly", a.maxPerCaller))
				return
			}
			defer a.leave(key)
			if a.latency != nil && observed(r.URL.Path) {
				defer func(t0 time.Time) { a.latency.Observe(time.Since(t0)) }(time.Now())
			}
		}
		next.ServeHTTP(w, r)
	})
}

// budget counts a call's body against the server-wide byte budget: its
// declared length up front (refused at once when it does not fit, before
// a byte is read), and whatever is read beyond it as it comes. It goes
// after authentication, so a call refused there never takes any.
func (a *admission) budget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		body := &budgetBody{ReadCloser: r.Body, a: a}
		defer body.release()
		if r.ContentLength > 0 {
			body.held = r.ContentLength
			body.reserved = r.ContentLength
			if a.bytes.Add(r.ContentLength) > a.maxBytes {
				a.refuse(w, r, errBufferFull)
				return
			}
		}
		r.Body = body
		next.ServeHTTP(w, r)
	})
}

// shedRetryAfter is the pause a refused call is told to take before
// retrying: long enough for the calls in flight to finish (they take
// milliseconds), short enough that a person does not notice.
const shedRetryAfter = time.Second

// refuse answers resource_exhausted at once, with a retry hint the
// clients read (client.retryAfter): a retry-after header in seconds and a
// google.rpc.RetryInfo detail.
func (a *admission) refuse(w http.ResponseWriter, r *http.Request, err error) {
	_ = a.errw.Write(w, r, withRetryHint(connect.NewError(connect.CodeResourceExhausted, err), shedRetryAfter))
}

// withRetryHint tells the caller of a refused call when to retry.
func withRetryHint(e *connect.Error, d time.Duration) *connect.Error {
	e.Meta().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
	if detail, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); err == nil {
		e.AddDetail(detail)
	}
	return e
}

func (a *admission) enter(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.callers[key] >= a.maxPerCaller {
		return false
	}
	a.callers[key]++
	return true
}

func (a *admission) leave(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.callers[key]--; a.callers[key] <= 0 {
		delete(a.callers, key)
	}
}

// budgetBody counts the bytes read from a body against the server-wide
// budget until the call ends; a read past the budget fails.
type budgetBody struct {
	io.ReadCloser
	a *admission
	// held is what the body counts against the budget; reserved the part
	// of it taken up front for the declared length.
	held, reserved, read int64
}

func (b *budgetBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.read += int64(n)
		if extra := b.read - b.reserved; extra > 0 {
			b.reserved = b.read
			b.held += extra
			if b.a.bytes.Add(extra) > b.a.maxBytes {
				return n, connect.NewError(connect.CodeResourceExhausted, errBufferFull)
			}
		}
	}
	return n, err
}

func (b *budgetBody) release() { b.a.bytes.Add(-b.held) }
