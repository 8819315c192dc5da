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
// Live messages go through a [Live] sender, which coalesces them into one
// BATCH_KIND_LIVE batch per 250 ms (or 100 messages) and sends each batch
// until the server accepts it, never dropping one after N tries:
//
//	live := c.Live(client.LiveConfig{})
//	defer live.Close(ctx)
//	err := live.Add(ctx, &chatsyncv1.SyncChat{Jid: jid, Type: typ, LastActivityTime: at, Messages: msgs})
//
// Signing happens in [Transport], an [http.RoundTripper] that sees the raw
// bytes on the wire: the Connect JSON and proto bodies, or a gRPC body with
// its 5-byte frame prefix. The server verifies those same bytes, so any
// protocol (and request compression) works unchanged.
package client
