package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/chatsync/chatsync/client"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/signing"
)

// A Go sidecar pushes a batch. The test server stands in for chatsync: it
// checks the signature over the raw body with signing.Verify before the
// Connect handler decodes anything.
func Example() {
	const (
		sessionID = "42"
		secret    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	)
	_, sync := chatsyncv1connect.NewSyncServiceHandler(&fakeSync{SyncBatchFn: accept})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := signing.Verify([]byte(secret), r.Header.Get(signing.HeaderTimestamp),
			r.Header.Get(signing.HeaderSignature), body, time.Now())
		if err != nil || r.Header.Get(signing.HeaderSession) != sessionID {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sync.ServeHTTP(w, r)
	}))
	defer srv.Close()

	c := client.New(srv.URL, sessionID, secret)
	res, err := c.SyncBatch(context.Background(), &chatsyncv1.SyncBatchRequest{
		BatchId: "example:0000",
		Kind:    chatsyncv1.BatchKind_BATCH_KIND_HISTORY,
		Chats: []*chatsyncv1.SyncChat{
			{Jid: "15551234567@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: new("Alice")},
			{Jid: "120363041234567890@g.us", Type: chatsyncv1.ChatType_CHAT_TYPE_GROUP, Name: new("Team")},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.GetBatchId(), res.GetStatus(), res.GetAcceptedCount())

	wrong := client.New(srv.URL, sessionID, "not-the-secret", client.WithRetries(0))
	_, err = wrong.SyncBatch(context.Background(), &chatsyncv1.SyncBatchRequest{BatchId: "example:0001"})
	fmt.Println(errors.Is(err, client.ErrUnauthenticated))
	// Output:
	// example:0000 BATCH_STATUS_QUEUED 2
	// true
}
