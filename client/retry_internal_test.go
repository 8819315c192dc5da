package client

import (
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		policy retryPolicy
		n      int
		want   time.Duration
	}{
		{name: "first", policy: retryPolicy{retries: 3, base: 2 * time.Second}, n: 1, want: 2 * time.Second},
		{name: "second", policy: retryPolicy{retries: 3, base: 2 * time.Second}, n: 2, want: 4 * time.Second},
		{name: "third", policy: retryPolicy{retries: 3, base: 2 * time.Second}, n: 3, want: 8 * time.Second},
		{name: "capped", policy: retryPolicy{retries: 9, base: 2 * time.Second, max: 5 * time.Second}, n: 3, want: 5 * time.Second},
		{name: "huge n stays capped", policy: retryPolicy{retries: 1000, base: time.Second, max: time.Minute}, n: 200, want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.policy.backoff(tt.n); got != tt.want {
				t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
}

func TestNextStopsAfterRetries(t *testing.T) {
	t.Parallel()
	p := retryPolicy{retries: 2, base: time.Second}
	err := connect.NewError(connect.CodeUnavailable, errors.New("down"))
	tests := []struct {
		name string
		n    int
		err  error
		want bool
	}{
		{name: "attempt 1", n: 1, err: err, want: true},
		{name: "attempt 2", n: 2, err: err, want: true},
		{name: "attempt 3 is the last", n: 3, err: err, want: false},
		{name: "plain error is unknown, retried", n: 1, err: errors.New("boom"), want: true},
		{name: "canceled", n: 1, err: connect.NewError(connect.CodeCanceled, errors.New("x")), want: false},
		{name: "not found", n: 1, err: connect.NewError(connect.CodeNotFound, errors.New("x")), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, got := p.next(tt.n, tt.err); got != tt.want {
				t.Errorf("next(%d, %v) retry = %v, want %v", tt.n, tt.err, got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	withHeader := func(v string) error {
		e := connect.NewError(connect.CodeResourceExhausted, errors.New("rate limit"))
		e.Meta().Set("Retry-After", v)
		return e
	}
	msg := func(m string) error { return connect.NewError(connect.CodeResourceExhausted, errors.New(m)) }
	tests := []struct {
		name   string
		err    error
		want   time.Duration
		wantOK bool
	}{
		{name: "header", err: withHeader("3"), want: 3 * time.Second, wantOK: true},
		{name: "header fraction", err: withHeader("0.5"), want: 500 * time.Millisecond, wantOK: true},
		{name: "header negative falls back to message", err: withHeader("-1"), wantOK: false},
		{name: "header date ignored", err: withHeader("Wed, 21 Oct 2015 07:28:00 GMT"), wantOK: false},
		{name: "message s", err: msg("retry after 12 s"), want: 12 * time.Second, wantOK: true},
		{name: "message glued s", err: msg("wait 4s please"), want: 4 * time.Second, wantOK: true},
		{name: "message seconds", err: msg("try again in 30 seconds"), want: 30 * time.Second, wantOK: true},
		{name: "message skips other numbers", err: msg("limit of 60 calls a minute; retry after 9 s"), want: 9 * time.Second, wantOK: true},
		{name: "message word starting with s", err: msg("60 sessions max"), wantOK: false},
		{name: "message without number", err: msg("slow down"), wantOK: false},
		{name: "not a connect error", err: errors.New("retry after 5 s"), wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := retryAfter(tt.err)
			if ok != tt.wantOK || ok && got != tt.want {
				t.Errorf("retryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
