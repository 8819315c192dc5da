// Package clienttest provides a SyncService test server that checks sidecar
// signatures the way DESIGN.md says the real server does, for tests of the
// Go client, the load generator and anything else that signs.
package clienttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/signing"
)

type verdictKey struct{}

// verdict is what the signature middleware found, handed to the interceptor
// so the refusal is encoded by connect-go in the caller's protocol.
type verdict struct {
	sessionID string
	err       error
}

// Handler serves svc behind a signature check: every request must carry a
// valid signature of one of the sessions in secrets (session ID → sidecar
// secret) at now; a request message with a session_id must name the signed
// session. Anything else is answered unauthenticated before svc runs.
func Handler(svc chatsyncv1connect.SyncServiceHandler, secrets map[string]string, now func() time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(chatsyncv1connect.NewSyncServiceHandler(svc, connect.WithInterceptors(sessionInterceptor{})))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		v := verdict{sessionID: r.Header.Get(signing.HeaderSession)}
		secret, ok := secrets[v.sessionID]
		switch {
		case v.sessionID == "":
			v.err = signing.ErrMissing
		case !ok:
			v.err = errors.New("unknown session")
		default:
			v.err = signing.Verify([]byte(secret), r.Header.Get(signing.HeaderTimestamp),
				r.Header.Get(signing.HeaderSignature), body, now())
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), verdictKey{}, v)))
	})
}

// NewServer starts Handler on an HTTP/2 TLS test server (Connect and gRPC
// both work through its Client()) and closes it in Cleanup.
func NewServer(tb testing.TB, svc chatsyncv1connect.SyncServiceHandler, secrets map[string]string) *httptest.Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(Handler(svc, secrets, time.Now))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv
}

type sessionInterceptor struct{}

func (sessionInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		sessionID, err := check(ctx)
		if err != nil {
			return nil, err
		}
		if m, ok := req.Any().(interface{ GetSessionId() string }); ok && m.GetSessionId() != sessionID {
			return nil, connect.NewError(connect.CodeUnauthenticated,
				fmt.Errorf("session_id %q is not the signed session %q", m.GetSessionId(), sessionID))
		}
		return next(ctx, req)
	}
}

func (sessionInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (sessionInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if _, err := check(ctx); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func check(ctx context.Context) (string, error) {
	v, ok := ctx.Value(verdictKey{}).(verdict)
	if !ok {
		return "", connect.NewError(connect.CodeInternal, errors.New("signature not checked"))
	}
	if v.err != nil {
		return "", connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("signature: %w", v.err))
	}
	return v.sessionID, nil
}
