package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker/tasks"
)

// HandleSyncBatch writes one accepted batch. Chunks commit one by one; a
// chunk the database refuses is written again chat by chat, so only the bad
// chats fail and are reported (the good chats of that chunk are written).
// A fault of the database itself fails the attempt: Asynq retries it (the
// writes are idempotent), and after the last attempt the batch and its
// session's sync status become failed and a sync_failed event goes out.
// Events for what was written are published once per batch, after the
// commits, and also when a later chunk fails.
func (p *Processor) HandleSyncBatch(ctx context.Context, t *asynq.Task) error {
	payload, err := tasks.DecodeSyncBatch(t)
	if err != nil {
		return err
	}
	b, in, done, err := p.store.StartBatch(ctx, payload.BatchPK)
	if errors.Is(err, store.ErrNotFound) {
		// The session (and its batches) was deleted.
		return fmt.Errorf("batch %d is gone: %w", payload.BatchPK, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	log := p.log.With(slog.Int64("workspace_id", b.WorkspaceID), slog.Int64("session_id", b.SessionID),
		slog.String("batch_id", b.BatchID), slog.String("task_type", t.Type()))
	if done {
		log.InfoContext(ctx, "batch already finished; task dropped", slog.String("status", string(b.Status)))
		return nil
	}
	start := p.now()
	log.InfoContext(ctx, "sync started", slog.String("kind", string(b.Kind)), slog.Int("chats", len(in.Chats)),
		slog.Int("contacts", len(in.Contacts)), slog.Int("attempt", int(b.Attempts)))

	var out written
	res, err := p.write(ctx, log, b, in, &out)
	// What committed is published even when a later chunk failed: a retry
	// would not report those messages as new again.
	p.publishWritten(ctx, log, b, &out)
	if err != nil {
		return p.attemptFailed(ctx, log, b, len(in.Chats), err)
	}
	res.Attempt = b.Attempts
	sess, pending, err := p.store.CompleteBatch(ctx, b.ID, res)
	if errors.Is(err, store.ErrSuperseded) {
		log.WarnContext(ctx, "batch taken over by a later attempt; this result is dropped", slog.Int("attempt", int(b.Attempts)))
		return nil
	}
	if err != nil {
		return p.attemptFailed(ctx, log, b, len(in.Chats), err)
	}
	p.publish(ctx, log, chatsync.Event{
		Type: chatsync.EventSyncProgress, WorkspaceID: b.WorkspaceID, SessionID: b.SessionID, Time: p.now().UTC(),
		Progress: &chatsync.SyncProgressEvent{BatchID: b.BatchID, Kind: b.Kind, WrittenCount: res.Written,
			FailedCount: int32(len(res.Failed)), TotalSynced: sess.TotalSynced, PendingBatches: pending},
	})
	took := p.now().Sub(start)
	p.metrics.batchDone(b, "completed", int(res.Written), sess.LastSyncAt)
	log.InfoContext(ctx, "sync completed", slog.Int("written", int(res.Written)), slog.Int("failed", len(res.Failed)),
		slog.Int("messages", len(out.messages)), slog.Duration("duration", took),
		slog.Duration("since_accepted", sess.LastSyncAt.Sub(b.CreatedAt)),
		slog.Int64("total_synced", sess.TotalSynced), slog.Int64("pending_batches", pending))
	return nil
}

// written collects what a batch's chunks committed, for its events.
type written struct {
	chatIDs  []int64
	seen     map[int64]bool
	messages []chatsync.Message
	updated  []chatsync.Message
	merged   []chatsync.ChatMerge
}

func (w *written) add(sw store.Written) {
	if w.seen == nil {
		w.seen = map[int64]bool{}
	}
	for _, id := range sw.ChatIDs {
		if !w.seen[id] {
			w.seen[id] = true
			w.chatIDs = append(w.chatIDs, id)
		}
	}
	w.messages = append(w.messages, sw.Messages...)
	w.updated = append(w.updated, sw.Updated...)
	w.merged = append(w.merged, sw.Merged...)
}

// write commits the batch chunk by chunk. It returns an error only for a
// fault that a retry may cure.
func (p *Processor) write(ctx context.Context, log *slog.Logger, b chatsync.Batch, in chatsync.BatchPayload, out *written) (store.BatchResult, error) {
	var res store.BatchResult
	contacts := in.Contacts
	for start := 0; start < len(in.Chats) || contacts != nil; start += p.chunkSize {
		if start > 0 && b.Kind != chatsync.BatchLive {
			// Backfill gives way to interactive calls between chunks; a
			// live batch is interactive itself and never waits.
			d, err := p.pressure.Yield(ctx)
			p.metrics.yieldedFor(d)
			if err != nil {
				return res, err
			}
		}
		end := min(start+p.chunkSize, len(in.Chats))
		chunk := in.Chats[start:end]
		w, err := p.store.IngestChunk(ctx, b.WorkspaceID, b.SessionID, chunk, contacts)
		ok := len(chunk) // chats as accepted: a chat reported twice counts twice
		if err != nil && store.IsDataError(err) {
			log.WarnContext(ctx, "chunk refused, writing its chats one by one", slog.Int("chunk_start", start), slog.String("error", err.Error()))
			w, ok, err = p.writeOneByOne(ctx, log, b, chunk, contacts, &res)
		}
		if err != nil {
			return res, err
		}
		contacts = nil // top-level contacts go with the first chunk
		res.Written += int32(ok)
		out.add(w)
		if end >= len(in.Chats) {
			break
		}
	}
	return res, nil
}

// writeOneByOne writes each chat of a refused chunk in its own transaction
// and records the ones the database refuses again; ok counts the chats
// written.
func (p *Processor) writeOneByOne(ctx context.Context, log *slog.Logger, b chatsync.Batch, chunk []chatsync.ChatInput, contacts []chatsync.ContactInput, res *store.BatchResult) (all store.Written, ok int, err error) {
	if len(contacts) > 0 {
		_, err := p.store.IngestChunk(ctx, b.WorkspaceID, b.SessionID, nil, contacts)
		switch {
		case err != nil && store.IsDataError(err):
			log.WarnContext(ctx, "contacts refused", slog.Int("contacts", len(contacts)), slog.String("error", err.Error()))
			res.Failed = append(res.Failed, chatsync.FailedChat{JID: "contacts", Reason: err.Error()})
		case err != nil:
			return all, 0, err
		}
	}
	for _, c := range chunk {
		w, err := p.store.IngestChunk(ctx, b.WorkspaceID, b.SessionID, []chatsync.ChatInput{c}, nil)
		if err != nil && store.IsDataError(err) {
			log.WarnContext(ctx, "chat refused", slog.String("chat_jid", c.JID), slog.String("error", err.Error()))
			res.Failed = append(res.Failed, chatsync.FailedChat{JID: c.JID, Reason: err.Error()})
			continue
		}
		if err != nil {
			return all, ok, err
		}
		ok++
		all.ChatIDs = append(all.ChatIDs, w.ChatIDs...)
		all.Messages = append(all.Messages, w.Messages...)
	}
	return all, ok, nil
}

// attemptFailed records a failed attempt; after the last one it fails the
// batch for good.
func (p *Processor) attemptFailed(ctx context.Context, log *slog.Logger, b chatsync.Batch, chats int, cause error) error {
	msg := cause.Error()
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if !ok {
		maxRetry = tasks.MaxAttempts - 1
	}
	// The context may be what failed (the 300 s timeout): finish without it.
	ctx = context.WithoutCancel(ctx)
	if retried < maxRetry {
		if err := p.store.RecordAttemptError(ctx, b.ID, msg); err != nil {
			log.ErrorContext(ctx, "record attempt error", slog.String("error", err.Error()))
		}
		log.WarnContext(ctx, "sync attempt failed, will retry", slog.Int("attempt", int(b.Attempts)),
			slog.Int("retries_left", maxRetry-retried), slog.String("error", msg))
		return cause
	}
	sess, _, err := p.store.FailBatch(ctx, b.ID, msg)
	if err != nil {
		log.ErrorContext(ctx, "mark batch failed", slog.String("error", err.Error()))
		return errors.Join(cause, err)
	}
	p.publish(ctx, log, chatsync.Event{
		Type: chatsync.EventSyncFailed, WorkspaceID: b.WorkspaceID, SessionID: b.SessionID, Time: p.now().UTC(),
		Failure: &chatsync.SyncFailureEvent{BatchID: b.BatchID, Error: msg, Attempts: b.Attempts},
	})
	p.metrics.batchDone(b, "failed", 0, time.Time{})
	log.ErrorContext(ctx, "sync failed", slog.Int("attempts", int(b.Attempts)), slog.Int("chats", chats),
		slog.String("error", msg), slog.String("session_sync_status", string(sess.SyncStatus)))
	return fmt.Errorf("batch %s failed after %d attempts: %w", b.BatchID, b.Attempts, cause)
}

// publishWritten publishes a chat_upserted event for every chat written
// (as clients now see it), a message_added event for every new message and
// a message_updated event for every message an edit, revoke or reaction
// changed.
func (p *Processor) publishWritten(ctx context.Context, log *slog.Logger, b chatsync.Batch, w *written) {
	if len(w.chatIDs) == 0 && len(w.messages) == 0 && len(w.updated) == 0 && len(w.merged) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx) // committed: report it even if the attempt timed out
	views, err := p.store.ChatViews(ctx, b.WorkspaceID, w.chatIDs)
	if err != nil {
		log.ErrorContext(ctx, "load written chats for their events", slog.Int("chats", len(w.chatIDs)), slog.String("error", err.Error()))
	}
	at := p.now().UTC()
	// Removals first: a client drops the merged chat before the chat it
	// went into comes back with the merged messages.
	p.publish(ctx, log, append(chatsync.MergedEvents(b.WorkspaceID, at, w.merged),
		chatsync.WrittenEvents(b.WorkspaceID, b.SessionID, at, views, w.messages, w.updated)...)...)
}

// publish sends events; a Redis fault is logged, not fatal: the data is
// committed and clients catch up on their next reload.
func (p *Processor) publish(ctx context.Context, log *slog.Logger, evs ...chatsync.Event) {
	if _, err := p.pub.Publish(ctx, evs...); err != nil {
		p.metrics.publishFailed(len(evs))
		log.ErrorContext(ctx, "publish events", slog.Int("events", len(evs)), slog.String("error", err.Error()))
	}
}
