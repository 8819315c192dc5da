// Package worker processes chatsync's queue: it writes accepted sync
// batches into the store in short chunked transactions, publishes realtime
// events after each commit, and re-enqueues batches whose task was lost.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/pressure"
	"github.com/chatsync/chatsync/store"
)

// batchStore is what batch processing needs of the store.
type batchStore interface {
	StartBatch(ctx context.Context, pk int64) (chatsync.Batch, chatsync.BatchPayload, bool, error)
	IngestChunk(ctx context.Context, workspaceID, sessionID int64, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) (store.Written, error)
	ChatViews(ctx context.Context, workspaceID int64, ids []int64) ([]chatsync.ChatView, error)
	RecordAttemptError(ctx context.Context, pk int64, msg string) error
	CompleteBatch(ctx context.Context, pk int64, r store.BatchResult) (chatsync.Session, int64, error)
	FailBatch(ctx context.Context, pk int64, msg string) (chatsync.Session, int64, error)
}

// publisher publishes realtime events.
type publisher interface {
	Publish(ctx context.Context, evs ...chatsync.Event) ([]string, error)
}

// Params configures a Processor.
type Params struct {
	Store     batchStore
	Publisher publisher
	Log       *slog.Logger
	// ChunkSize is how many chats one transaction writes (default 10).
	ChunkSize int
	// Metrics records processing figures; nil records nothing.
	Metrics *Metrics
	// Pressure, when set, makes history batches pause between chunks
	// while the API's calls are slow (package pressure).
	Pressure *pressure.Reader
}

// Processor handles TypeSyncBatch tasks.
type Processor struct {
	store     batchStore
	pub       publisher
	log       *slog.Logger
	chunkSize int
	metrics   *Metrics
	pressure  *pressure.Reader
	now       func() time.Time
}

// NewProcessor returns a processor.
func NewProcessor(p Params) (*Processor, error) {
	if p.Store == nil || p.Publisher == nil || p.Log == nil {
		return nil, fmt.Errorf("worker: Store, Publisher and Log are required")
	}
	if p.ChunkSize <= 0 {
		p.ChunkSize = 10
	}
	return &Processor{store: p.Store, pub: p.Publisher, log: p.Log, chunkSize: p.ChunkSize, metrics: p.Metrics,
		pressure: p.Pressure, now: time.Now}, nil
}
