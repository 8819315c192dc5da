package client

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// retryPolicy decides whether and when a failed attempt is retried.
type retryPolicy struct {
	retries int           // retries after the first attempt
	base    time.Duration // wait before the first retry; doubles each time
	max     time.Duration // cap of one wait; 0 means none
}

// next returns the wait before attempt n+1 after attempt n failed with err,
// and false when there should be none.
func (p retryPolicy) next(n int, err error) (time.Duration, bool) {
	if n > p.retries {
		return 0, false
	}
	code := connect.CodeOf(err)
	switch {
	case code == connect.CodeResourceExhausted:
		if d, ok := retryAfter(err); ok {
			return p.capped(d), true
		}
		return p.backoff(n), true
	case retryable(code):
		return p.backoff(n), true
	default:
		return 0, false
	}
}

// retryable reports whether an attempt that failed with code may succeed
// when repeated unchanged.
func retryable(code connect.Code) bool {
	switch code {
	case connect.CodeResourceExhausted, connect.CodeUnavailable, connect.CodeDeadlineExceeded,
		connect.CodeAborted, connect.CodeInternal, connect.CodeUnknown:
		return true
	}
	return false
}

// backoff is base·2^(n-1): 2 s, 4 s, 8 s with the defaults.
func (p retryPolicy) backoff(n int) time.Duration {
	d := p.base
	for i := 1; i < n; i++ {
		if p.max > 0 && d >= p.max {
			break
		}
		d *= 2
	}
	return p.capped(d)
}

func (p retryPolicy) capped(d time.Duration) time.Duration {
	if p.max > 0 && d > p.max {
		return p.max
	}
	return d
}

// retryAfter reads how long the server asked to wait: the retry-after header
// (seconds), else a google.rpc.RetryInfo error detail, else the seconds the
// message names ("... retry after 12 s").
func retryAfter(err error) (time.Duration, bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return 0, false
	}
	if d, ok := parseSeconds(ce.Meta().Get("Retry-After")); ok {
		return d, true
	}
	for _, detail := range ce.Details() {
		v, derr := detail.Value()
		if derr != nil {
			continue
		}
		if ri, ok := v.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return secondsInMessage(ce.Message())
}

func parseSeconds(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 86400 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// secondsInMessage finds the first number followed by "s" or "sec…" in msg,
// e.g. "rate limit of 60 calls a minute: retry after 12 s".
func secondsInMessage(msg string) (time.Duration, bool) {
	for i := 0; i < len(msg); i++ {
		if !isDigit(msg[i]) || (i > 0 && (isDigit(msg[i-1]) || msg[i-1] == '.')) {
			continue
		}
		j := i
		for j < len(msg) && (isDigit(msg[j]) || msg[j] == '.') {
			j++
		}
		rest := strings.TrimLeft(msg[j:], " ")
		if !strings.HasPrefix(rest, "s") {
			continue
		}
		// "s" must end the word, or begin "sec…".
		if len(rest) > 1 && isLetter(rest[1]) && !strings.HasPrefix(rest, "sec") {
			continue
		}
		if d, ok := parseSeconds(msg[i:j]); ok {
			return d, true
		}
	}
	return 0, false
}

func isDigit(b byte) bool  { return b >= '0' && b <= '9' }
func isLetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }
