package client_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync/client"
	"github.com/chatsync/chatsync/client/clienttest"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
)

func TestLogging(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		secret   string
		fail     error
		wantLine string
	}{
		{name: "retry", secret: testSecret, fail: connect.NewError(connect.CodeUnavailable, errors.New("down")), wantLine: "call failed, retrying"},
		{name: "wrong secret", secret: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", wantLine: "secret is wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, nil))
			first := true
			svc := &fakeSync{SyncBatchFn: func(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
				if first && tt.fail != nil {
					first = false
					return nil, tt.fail
				}
				return accept(ctx, req)
			}}
			var rec recorder
			c := newClient(t, svc, tt.secret, append(rec.options(), client.WithLogger(logger))...)
			_, _ = c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{BatchId: "b-log"})
			out := buf.String()
			for _, want := range []string{tt.wantLine, `"session_id":"42"`, `"batch_id":"b-log"`} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, tt.secret) {
				t.Errorf("log contains the secret:\n%s", out)
			}
		})
	}
}

func TestGRPCOverH2C(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(clienttest.Handler(&fakeSync{SyncBatchFn: accept}, map[string]string{"42": testSecret}, time.Now))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	// No WithHTTPClient: the default transport must speak h2c for gRPC.
	c := client.New(srv.URL, "42", testSecret, client.WithProtocol(client.ProtocolGRPC))
	res, err := c.SyncBatch(t.Context(), &chatsyncv1.SyncBatchRequest{BatchId: "b1", Chats: []*chatsyncv1.SyncChat{{Jid: "1@s.whatsapp.net"}}})
	if err != nil || res.GetAcceptedCount() != 1 {
		t.Fatalf("SyncBatch over h2c = %v, %v", res, err)
	}
}

func TestWatchCommandsUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens at the URL any more
	c := client.New(srv.URL, "42", testSecret)
	stream, err := c.WatchCommands(t.Context())
	if err == nil {
		defer stream.Close()
		if stream.Receive() {
			t.Fatal("received a command from a closed server")
		}
		err = stream.Err()
	}
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("WatchCommands error = %v, want unavailable", err)
	}
}
