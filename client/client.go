package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
)

// Defaults of the retry policy, the same as the Node sidecar's.
const (
	DefaultRetries     = 3
	DefaultBackoff     = 2 * time.Second
	DefaultCallTimeout = 10 * time.Second
	// DefaultMaxBackoff caps one wait, whether from backoff or retry-after.
	DefaultMaxBackoff = 5 * time.Minute
)

// Client calls SyncService for one session, signed with its sidecar secret.
// It is safe for concurrent use.
type Client struct {
	rpc       chatsyncv1connect.SyncServiceClient
	sessionID string
	policy    retryPolicy
	timeout   time.Duration
	sleep     func(ctx context.Context, d time.Duration) error
	now       func() time.Time
	observe   func(Attempt)
	logger    *slog.Logger
}

// Attempt describes one try of a retried call, for metrics and progress.
type Attempt struct {
	// Procedure is the RPC, e.g. "/chatsync.v1.SyncService/SyncBatch".
	Procedure string
	// BatchID is the batch's ID for SyncBatch, else empty.
	BatchID string
	// Number counts attempts from 1.
	Number int
	// Duration is how long the attempt took.
	Duration time.Duration
	// Err is the attempt's error; nil on success.
	Err error
	// Wait is the pause before the next attempt; 0 when there is none.
	Wait time.Duration
}

type config struct {
	httpClient  *http.Client
	protocol    Protocol
	connectOpts []connect.ClientOption
	policy      retryPolicy
	timeout     time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	now         func() time.Time
	observe     func(Attempt)
	logger      *slog.Logger
}

// Option configures a Client.
type Option func(*config)

// WithHTTPClient sends through hc; its Transport is wrapped with the signing
// Transport (nil Transport: http.DefaultTransport). Use it for TLS settings,
// or for a test server's client.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.httpClient = hc } }

// WithProtocol chooses Connect proto (the default), Connect JSON or gRPC.
// gRPC to an http:// URL speaks HTTP/2 without TLS (h2c).
func WithProtocol(p Protocol) Option { return func(c *config) { c.protocol = p } }

// WithConnectOptions adds connect-go client options, e.g. connect.WithSendGzip().
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return func(c *config) { c.connectOpts = append(c.connectOpts, opts...) }
}

// WithRetries sets how many times a failed SyncBatch is retried (default 3;
// 0 disables retries).
func WithRetries(n int) Option { return func(c *config) { c.policy.retries = max(n, 0) } }

// WithBackoff sets the first retry's wait (default 2 s); each further retry
// waits twice as long, up to max.
func WithBackoff(base, maxWait time.Duration) Option {
	return func(c *config) { c.policy.base, c.policy.max = base, maxWait }
}

// WithCallTimeout bounds each attempt (default 10 s); 0 means no bound
// beyond the caller's context.
func WithCallTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithSleep replaces the wait between attempts; it must return ctx.Err()
// when ctx ends first. Tests use it to skip real waits.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *config) { c.sleep = sleep }
}

// WithClock sets the clock used for signing timestamps and timings.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithObserver calls fn after every attempt of a retried call (from the
// calling goroutine).
func WithObserver(fn func(Attempt)) Option { return func(c *config) { c.observe = fn } }

// WithLogger logs retries and refusals; the default logs nothing. Lines carry
// session_id and batch_id, never the secret.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// New returns a Client for the session sessionID of the chatsync server at
// baseURL (e.g. "http://127.0.0.1:8080"), signing with secret, the
// session's sidecar_secret.
func New(baseURL, sessionID, secret string, opts ...Option) *Client {
	cfg := config{
		policy:  retryPolicy{retries: DefaultRetries, base: DefaultBackoff, max: DefaultMaxBackoff},
		timeout: DefaultCallTimeout,
		sleep:   sleepContext,
		now:     time.Now,
		observe: func(Attempt) {},
		logger:  slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	hc := signedHTTPClient(cfg, sessionID, secret)
	connectOpts := append(cfg.protocol.clientOptions(), cfg.connectOpts...)
	return &Client{
		rpc:       chatsyncv1connect.NewSyncServiceClient(hc, baseURL, connectOpts...),
		sessionID: sessionID,
		policy:    cfg.policy,
		timeout:   cfg.timeout,
		sleep:     cfg.sleep,
		now:       cfg.now,
		observe:   cfg.observe,
		logger:    cfg.logger.With(slog.String("session_id", sessionID)),
	}
}

func signedHTTPClient(cfg config, sessionID, secret string) *http.Client {
	var hc http.Client
	if cfg.httpClient != nil {
		hc = *cfg.httpClient
	}
	base := hc.Transport
	if base == nil {
		base = defaultTransport(cfg.protocol)
	}
	hc.Transport = &Transport{Base: base, SessionID: sessionID, Secret: secret, Now: cfg.now}
	return &hc
}

// defaultTransport is http.DefaultTransport's settings; for gRPC it also
// speaks HTTP/2 over plain TCP (h2c), which gRPC needs on http:// URLs.
func defaultTransport(p Protocol) http.RoundTripper {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if p == ProtocolGRPC {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

// SessionID is the session the client signs for.
func (c *Client) SessionID() string { return c.sessionID }

// SyncBatch sends a batch, filling in the session ID when it is empty. It
// retries transient failures (unavailable, deadline exceeded, aborted,
// internal, unknown) with exponential backoff, and resource_exhausted after
// the server's retry-after; the batch ID makes a retried batch a duplicate
// on the server rather than a second copy. It stops at once on
// unauthenticated (the error wraps ErrUnauthenticated) and on any other
// code.
func (c *Client) SyncBatch(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	if req.GetSessionId() == "" {
		req.SessionId = c.sessionID
	}
	res, err := retry(ctx, c, chatsyncv1connect.SyncServiceSyncBatchProcedure, req.GetBatchId(),
		func(ctx context.Context) (*chatsyncv1.SyncBatchResponse, error) { return c.rpc.SyncBatch(ctx, req) })
	if err != nil {
		return nil, fmt.Errorf("sync batch %s: %w", req.GetBatchId(), err)
	}
	return res, nil
}

// GetSyncBatch reports an accepted batch's processing state; it retries like
// SyncBatch.
func (c *Client) GetSyncBatch(ctx context.Context, batchID string) (*chatsyncv1.SyncBatch, error) {
	req := &chatsyncv1.GetSyncBatchRequest{SessionId: c.sessionID, BatchId: batchID}
	res, err := retry(ctx, c, chatsyncv1connect.SyncServiceGetSyncBatchProcedure, batchID,
		func(ctx context.Context) (*chatsyncv1.GetSyncBatchResponse, error) {
			return c.rpc.GetSyncBatch(ctx, req)
		})
	if err != nil {
		return nil, fmt.Errorf("get sync batch %s: %w", batchID, err)
	}
	return res.GetBatch(), nil
}

// CompleteCommand reports a command's outcome: errText empty on success, and
// messageID for a SendCommand. It retries like SyncBatch.
func (c *Client) CompleteCommand(ctx context.Context, commandID, errText, messageID string) error {
	req := &chatsyncv1.CompleteCommandRequest{SessionId: c.sessionID, CommandId: commandID, Error: errText, MessageId: messageID}
	_, err := retry(ctx, c, chatsyncv1connect.SyncServiceCompleteCommandProcedure, "",
		func(ctx context.Context) (*chatsyncv1.CompleteCommandResponse, error) {
			return c.rpc.CompleteCommand(ctx, req)
		})
	if err != nil {
		return fmt.Errorf("complete command %s: %w", commandID, err)
	}
	return nil
}

// WatchCommands opens the session's command stream. It is not retried or
// bounded by the call timeout; the caller reconnects when it ends.
func (c *Client) WatchCommands(ctx context.Context) (*connect.ServerStreamForClient[chatsyncv1.WatchCommandsResponse], error) {
	stream, err := c.rpc.WatchCommands(ctx, &chatsyncv1.WatchCommandsRequest{SessionId: c.sessionID})
	if err != nil {
		return nil, fmt.Errorf("watch commands: %w", markUnauthenticated(err))
	}
	return stream, nil
}

func retry[Res any](ctx context.Context, c *Client, procedure, batchID string, call func(context.Context) (*Res, error)) (*Res, error) {
	log := c.logger
	if batchID != "" {
		log = log.With(slog.String("batch_id", batchID))
	}
	for n := 1; ; n++ {
		start := c.now()
		res, err := callWithTimeout(ctx, c.timeout, call)
		a := Attempt{Procedure: procedure, BatchID: batchID, Number: n, Duration: c.now().Sub(start), Err: err}
		if err == nil {
			c.observe(a)
			return res, nil
		}
		wait, again := c.policy.next(n, err)
		if ctx.Err() != nil {
			again = false
		}
		if again {
			a.Wait = wait
		}
		c.observe(a)
		code := connect.CodeOf(err)
		if code == connect.CodeUnauthenticated {
			log.ErrorContext(ctx, "secret is wrong: the server refused the signature; not retrying",
				slog.String("procedure", procedure), slog.String("code", code.String()))
			return nil, markUnauthenticated(err)
		}
		if !again {
			return nil, err
		}
		log.WarnContext(ctx, "call failed, retrying",
			slog.String("procedure", procedure), slog.String("code", code.String()),
			slog.Int("attempt", n), slog.Duration("wait", wait), slog.Any("error", err))
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("wait to retry after %w: %w", err, serr)
		}
	}
}

func callWithTimeout[Res any](ctx context.Context, d time.Duration, call func(context.Context) (*Res, error)) (*Res, error) {
	if d <= 0 {
		return call(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return call(ctx)
}

func markUnauthenticated(err error) error {
	if connect.CodeOf(err) == connect.CodeUnauthenticated && !errors.Is(err, ErrUnauthenticated) {
		return fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	return err
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
