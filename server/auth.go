package server

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/signing"
	"github.com/chatsync/chatsync/store"
)

// principal is who calls: a workspace (API token), or a session of it
// (sidecar signature).
type principal struct {
	workspaceID int64
	// token is the API token's hash (token calls only): streams are
	// counted per token.
	token     [sha256.Size]byte
	sessionID int64 // set for signed sidecar calls only
	// session is the signed session as loaded to verify the signature, so
	// the handler need not load it again.
	session *chatsync.Session
}

type principalKey struct{}

func withPrincipal(ctx context.Context, p principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

func principalFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p, ok
}

// mustPrincipal returns the caller; the auth interceptor guarantees one.
func mustPrincipal(ctx context.Context) principal {
	p, ok := principalFrom(ctx)
	if !ok {
		panic("server: handler reached without the auth interceptor")
	}
	return p
}

// tokenResolver resolves API tokens.
type tokenResolver interface {
	WorkspaceForToken(ctx context.Context, token string) (int64, error)
}

// authInterceptor admits calls with a valid API token, or signed sidecar
// calls the signature middleware verified. The workspace always comes from
// the credentials, never from the request.
type authInterceptor struct {
	tokens tokenResolver
}

var _ connect.Interceptor = (*authInterceptor)(nil)

func (a *authInterceptor) authenticate(ctx context.Context, procedure string, h http.Header) (context.Context, error) {
	p, ok := principalFrom(ctx)
	if ok && p.sessionID != 0 {
		if !strings.HasPrefix(procedure, "/"+chatsyncv1connect.SyncServiceName+"/") {
			return ctx, connect.NewError(connect.CodeUnauthenticated, errors.New("a sidecar signature only authorises SyncService"))
		}
		return ctx, nil
	}
	if !ok {
		// Normally tokenGate resolved the token before the body was
		// read; this covers a handler mounted without it.
		var err error
		if p, err = tokenPrincipal(ctx, a.tokens, h); err != nil {
			return ctx, err
		}
		ctx = withPrincipal(ctx, p)
	}
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		c.workspaceID = p.workspaceID
	}
	return ctx, nil
}

// tokenPrincipal resolves the caller of an API token call.
func tokenPrincipal(ctx context.Context, tokens tokenResolver, h http.Header) (principal, error) {
	// The scheme is case-insensitive (RFC 7235 §2.1).
	scheme, token, ok := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("missing API token: send Authorization: Bearer <token>"))
	}
	ws, err := tokens.WorkspaceForToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return principal{}, connect.NewError(connect.CodeUnauthenticated, errors.New("invalid or revoked API token"))
	}
	if err != nil {
		return principal{}, unavailable("the API token cannot be checked right now; retry", fmt.Errorf("check API token: %w", err))
	}
	return principal{workspaceID: ws, token: sha256.Sum256([]byte(token))}, nil
}

// tokenGate checks the API token of a call before its body is read: a call
// without valid credentials is answered unauthenticated at once, so its
// body is never read, decompressed or decoded. Signed sidecar calls pass
// to the signature middleware, which must read the body to verify it.
type tokenGate struct {
	tokens tokenResolver
	errw   *connect.ErrorWriter
	log    *slog.Logger
}

func (g *tokenGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if signed(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := tokenPrincipal(r.Context(), g.tokens, r.Header)
		if err != nil {
			g.log.InfoContext(r.Context(), "rpc failed", slog.String("procedure", r.URL.Path),
				slog.String("code", connect.CodeOf(err).String()), slog.String("error", err.Error()), slog.String("remote_addr", r.RemoteAddr))
			_ = g.errw.Write(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// signed reports whether a request carries any sidecar signature header.
func signed(h http.Header) bool {
	return h.Get(signing.HeaderSession) != "" || h.Get(signing.HeaderSignature) != "" || h.Get(signing.HeaderTimestamp) != ""
}

func (a *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := a.authenticate(ctx, req.Spec().Procedure, req.Header())
		if err != nil {
			return nil, err
		}
		if err := signedSessionMatches(ctx, req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// errSessionMismatch: a signed call names another session in its body.
var errSessionMismatch = errors.New("session_id in the body differs from the X-Chatsync-Session header")

// signedSessionMatches refuses a signed call whose body names another
// session than the signature's, before validation, so the answer is
// unauthenticated whatever else is wrong with the request.
func signedSessionMatches(ctx context.Context, msg any) error {
	p, ok := principalFrom(ctx)
	if !ok || p.sessionID == 0 {
		return nil
	}
	named, ok := msg.(interface{ GetSessionId() string })
	if !ok {
		return nil
	}
	if named.GetSessionId() != strconv.FormatInt(p.sessionID, 10) {
		return connect.NewError(connect.CodeUnauthenticated, errSessionMismatch)
	}
	return nil
}

func (a *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := a.authenticate(ctx, conn.Spec().Procedure, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// sessionSecrets looks up what verifying a signature needs: the session
// (whose workspace the call then acts for) and its secret nonce.
type sessionSecrets interface {
	SyncSession(ctx context.Context, id int64) (chatsync.Session, []byte, error)
}

// signatureMiddleware verifies sidecar signatures over the raw HTTP body,
// before any decoding, for every protocol (Connect JSON and proto, gRPC). A
// request with any X-Chatsync-* signature header takes this path; a bad
// signature is answered unauthenticated here and reaches no handler.
type signatureMiddleware struct {
	secrets sessionSecrets
	keys    Keys
	log     *slog.Logger
	now     func() time.Time
	errw    *connect.ErrorWriter
	maxBody int64
}

func (m *signatureMiddleware) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		if !signed(h) {
			next.ServeHTTP(w, r)
			return
		}
		p, body, reason := m.verify(r)
		if reason != nil {
			code, wire := connect.CodeUnauthenticated, reason
			switch {
			case errors.Is(reason, errBodyTooLarge), errors.Is(reason, errBufferFull):
				code = connect.CodeResourceExhausted
			case errors.Is(reason, errLookup):
				// Not the caller's fault: retrying may succeed, and the
				// database's error stays in the log.
				code, wire = connect.CodeUnavailable, errLookup
			}
			// The reason names what is wrong, never the secret or the
			// expected signature.
			logged := reason.Error()
			if _, ok := errors.AsType[*unknownSessionError](reason); ok {
				logged = errUnknownSession.Error() + " (answered as: " + logged + ")"
			}
			m.log.WarnContext(r.Context(), "sidecar signature refused",
				slog.String("reason", logged), slog.String("session_header", truncate(h.Get(signing.HeaderSession), 24)),
				slog.String("procedure", r.URL.Path), slog.String("remote_addr", r.RemoteAddr))
			_ = m.errw.Write(w, r, connect.NewError(code, fmt.Errorf("sidecar signature: %w", wire)))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

// unknownSessionSecret signs nothing: no session's secret is this string
// (secrets are 64 hex characters).
const unknownSessionSecret = "no session has this secret"

// unknownSessionError answers a call signed for a session that does not
// exist with what a wrong signature gets; the log says which it was.
type unknownSessionError struct{ wire error }

func (e *unknownSessionError) Error() string { return e.wire.Error() }
func (e *unknownSessionError) Unwrap() error { return e.wire }

var (
	errUnknownSession = errors.New("unknown session")
	errBodyTooLarge   = errors.New("request body too large")
	// errLookup: the session could not be loaded (the database is down),
	// so the signature could not be checked.
	errLookup = errors.New("the session cannot be looked up right now; retry")
)

func (m *signatureMiddleware) verify(r *http.Request) (principal, []byte, error) {
	raw := r.Header.Get(signing.HeaderSession)
	id, err := strconv.ParseInt(raw, 10, 64)
	if raw == "" {
		return principal{}, nil, signing.ErrMissing
	}
	if err != nil || id <= 0 {
		return principal{}, nil, errors.New("X-Chatsync-Session is not a session ID")
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= m.maxBody {
		buf.Grow(int(r.ContentLength)) // one allocation, not ReadAll's doublings
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, m.maxBody+1)); err != nil {
		return principal{}, nil, fmt.Errorf("read body: %w", err)
	}
	body := buf.Bytes()
	if int64(len(body)) > m.maxBody {
		return principal{}, nil, fmt.Errorf("%w: over %d bytes", errBodyTooLarge, m.maxBody)
	}
	sess, nonce, err := m.secrets.SyncSession(r.Context(), id)
	unknown := errors.Is(err, store.ErrNotFound)
	if err != nil && !unknown {
		return principal{}, nil, fmt.Errorf("%w: %w", errLookup, err)
	}
	// An unknown session is checked like a known one, against a secret
	// nobody has, so it is answered exactly as a wrong signature is
	// (session IDs are sequential: a different answer would list them).
	secret := []byte(unknownSessionSecret)
	if !unknown {
		secret = []byte(m.keys.SidecarSecret(id, nonce))
	}
	verr := signing.Verify(secret, r.Header.Get(signing.HeaderTimestamp), r.Header.Get(signing.HeaderSignature), body, m.now())
	if unknown {
		return principal{}, nil, &unknownSessionError{wire: cmp.Or(verr, signing.ErrMismatch)}
	}
	if verr != nil {
		return principal{}, nil, verr
	}
	return principal{workspaceID: sess.WorkspaceID, sessionID: id, session: &sess}, body, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// logInterceptor logs every failed call with its procedure, code and
// workspace, and the hidden cause of internal errors.
type logInterceptor struct {
	log *slog.Logger
}

// call is filled by the inner auth interceptor: the outer logging
// interceptor's context never sees the principal that auth adds to the
// handler's context, so auth also records the workspace here.
type call struct {
	workspaceID int64
}

type callKey struct{}

var _ connect.Interceptor = (*logInterceptor)(nil)

func (l *logInterceptor) done(ctx context.Context, procedure string, start time.Time, msg any, err error) {
	if err == nil {
		return
	}
	code := connect.CodeOf(err)
	attrs := []slog.Attr{slog.String("procedure", procedure), slog.String("code", code.String()), slog.Duration("duration", time.Since(start))}
	signed := false
	if p, ok := principalFrom(ctx); ok {
		attrs = append(attrs, slog.Int64("workspace_id", p.workspaceID))
		if p.sessionID != 0 {
			signed = true
			attrs = append(attrs, slog.Int64("session_id", p.sessionID))
		}
	} else if c, ok := ctx.Value(callKey{}).(*call); ok && c.workspaceID != 0 {
		attrs = append(attrs, slog.Int64("workspace_id", c.workspaceID))
	}
	attrs = append(attrs, requestIDs(msg, !signed)...)
	level := slog.LevelInfo
	var ie internalError
	if errors.As(err, &ie) {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", ie.cause.Error()))
	} else {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	l.log.LogAttrs(ctx, level, "rpc failed", attrs...)
}

// requestIDs names the session and batch a request is about, so every
// line about a batch carries workspace_id, session_id and batch_id.
func requestIDs(msg any, withSession bool) []slog.Attr {
	var attrs []slog.Attr
	if m, ok := msg.(interface{ GetSessionId() string }); ok && withSession {
		if id, err := strconv.ParseInt(m.GetSessionId(), 10, 64); err == nil {
			attrs = append(attrs, slog.Int64("session_id", id))
		}
	}
	if m, ok := msg.(interface{ GetBatchId() string }); ok && m.GetBatchId() != "" {
		attrs = append(attrs, slog.String("batch_id", truncate(m.GetBatchId(), 64)))
	}
	return attrs
}

func (l *logInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		ctx = context.WithValue(ctx, callKey{}, &call{})
		res, err := next(ctx, req)
		l.done(ctx, req.Spec().Procedure, start, req.Any(), err)
		return res, err
	}
}

func (l *logInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (l *logInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		ctx = context.WithValue(ctx, callKey{}, &call{})
		err := next(ctx, conn)
		l.done(ctx, conn.Spec().Procedure, start, nil, err)
		return err
	}
}
