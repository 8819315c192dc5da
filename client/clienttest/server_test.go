package clienttest_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync/client/clienttest"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/signing"
)

type acceptAll struct {
	chatsyncv1connect.UnimplementedSyncServiceHandler
}

func (acceptAll) SyncBatch(_ context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	return &chatsyncv1.SyncBatchResponse{BatchId: req.GetBatchId(), AcceptedCount: int32(len(req.GetChats()))}, nil
}

// TestHandler drives the server with raw Connect JSON requests, as curl or a
// hand-written sidecar would send them.
func TestHandler(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t"
	srv := clienttest.NewServer(t, acceptAll{}, map[string]string{"42": secret})
	now := time.Now().Unix()
	body := `{"sessionId":"42","batchId":"b1","kind":"BATCH_KIND_HISTORY"}`
	sign := func(secret string, ts int64, body string) string {
		return signing.Sign([]byte(secret), ts, []byte(body))
	}
	tests := []struct {
		name    string
		session string
		ts      int64
		sig     string
		body    string
		want    int
	}{
		{name: "valid", session: "42", ts: now, sig: sign(secret, now, body), body: body, want: http.StatusOK},
		{name: "no headers", body: body, want: http.StatusUnauthorized},
		{name: "unknown session", session: "43", ts: now, sig: sign(secret, now, body), body: body, want: http.StatusUnauthorized},
		{name: "wrong secret", session: "42", ts: now, sig: sign("other", now, body), body: body, want: http.StatusUnauthorized},
		{name: "stale", session: "42", ts: now - 301, sig: sign(secret, now-301, body), body: body, want: http.StatusUnauthorized},
		{name: "body names another session", session: "42", ts: now, sig: sign(secret, now, strings.Replace(body, "42", "7", 1)), body: strings.Replace(body, "42", "7", 1), want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
				srv.URL+chatsyncv1connect.SyncServiceSyncBatchProcedure, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if tt.session != "" {
				req.Header.Set(signing.HeaderSession, tt.session)
				req.Header.Set(signing.HeaderTimestamp, strconv.FormatInt(tt.ts, 10))
				req.Header.Set(signing.HeaderSignature, tt.sig)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}
