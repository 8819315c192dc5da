// Package client is the Go side of the sidecar contract: it signs requests
// to chatsync's SyncService the way DESIGN.md's "Sidecar signing" says, and
// retries SyncBatch the way the Node sidecar does.
//
// A Go sidecar is a few lines:
//
//	c := client.New("http://127.0.0.1:8080", sessionID, secret)
//	res, err := c.SyncBatch(ctx, &chatsyncv1.SyncBatchRequest{
//		BatchId: "run1:0000",
//		Kind:    chatsyncv1.BatchKind_BATCH_KIND_HISTORY,
//		Chats:   chats,
//	})
//
// Signing happens in [Transport], an [http.RoundTripper] that sees the raw
// bytes on the wire: the Connect JSON and proto bodies, or a gRPC body with
// its 5-byte frame prefix. The server verifies those same bytes, so any
// protocol (and request compression) works unchanged.
package client
