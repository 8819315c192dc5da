package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/hibiken/asynq"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker/tasks"
)

// syncStore is what SyncService needs of the store.
type syncStore interface {
	Session(ctx context.Context, workspaceID, id int64) (chatsync.Session, error)
	AcceptBatch(ctx context.Context, nb store.NewBatch) (chatsync.Batch, bool, error)
	Batch(ctx context.Context, workspaceID, sessionID int64, batchID string) (chatsync.Batch, error)
}

type syncServer struct {
	store       syncStore
	queue       *asynq.Client
	limiter     *rateLimiter
	log         *slog.Logger
	enabled     bool
	defaultRate int
	liveRate    int
	now         func() time.Time
	// commandServer serves WatchCommands and CompleteCommand (commands.go).
	*commandServer
}

var _ chatsyncv1connect.SyncServiceHandler = (*syncServer)(nil)

// sessionLoader loads a session of a workspace.
type sessionLoader interface {
	Session(ctx context.Context, workspaceID, id int64) (chatsync.Session, error)
}

// callerSession resolves the session a SyncService call names, for a token
// of its workspace or a signature of that very session. Errors other than
// the connect errors it makes itself are the store's.
func callerSession(ctx context.Context, sessions sessionLoader, raw string) (chatsync.Session, error) {
	p := mustPrincipal(ctx)
	id, err := parseID("session_id", raw)
	if err != nil {
		return chatsync.Session{}, err
	}
	if p.sessionID != 0 && p.sessionID != id {
		return chatsync.Session{}, connect.NewError(connect.CodeUnauthenticated, errSessionMismatch)
	}
	if p.session != nil && p.session.ID == id {
		return *p.session, nil // loaded a moment ago to verify the signature
	}
	sess, err := sessions.Session(ctx, p.workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return sess, notFound("session")
	}
	return sess, err
}

func (s *syncServer) SyncBatch(ctx context.Context, req *chatsyncv1.SyncBatchRequest) (*chatsyncv1.SyncBatchResponse, error) {
	if !s.enabled {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("sync is disabled on this server (CHATSYNC_SYNC_ENABLED=false)"))
	}
	sess, err := callerSession(ctx, s.store, req.GetSessionId())
	if err != nil {
		return nil, toConnect(err)
	}
	if n := proto.Size(req); n > chatsync.MaxBatchBytes {
		return nil, invalidArgument("chats: batch is %d bytes, over the limit of %d bytes (8 MiB)", n, chatsync.MaxBatchBytes)
	}
	// A session's own rate is its history budget; live batches take the
	// server's live budget.
	live := req.GetKind() == chatsyncv1.BatchKind_BATCH_KIND_LIVE
	rate := s.defaultRate
	switch {
	case live:
		rate = s.liveRate
	case sess.SyncConfig.RatePerMinute > 0:
		rate = int(sess.SyncConfig.RatePerMinute)
	}
	if err := s.limiter.allowSync(ctx, sess.ID, live, rate); err != nil {
		return nil, err
	}
	now := s.now()
	nb := store.NewBatch{
		WorkspaceID: sess.WorkspaceID, SessionID: sess.ID, BatchID: req.GetBatchId(), Kind: batchKindFromProto(req.GetKind()),
	}
	// Contacts, like chats, are refused one by one: one bad entry does
	// not cost the batch.
	for i, c := range req.GetContacts() {
		ci := contactFromProto(c)
		if err := ci.Validate(fmt.Sprintf("contacts[%d].", i)); err != nil {
			nb.Rejected = append(nb.Rejected, chatsync.RejectedChat{
				Index: int32(i), JID: clip(c.GetJid(), maxEchoBytes), Reason: clip(err.Error(), 2*maxEchoBytes), Contact: true,
			})
			continue
		}
		nb.Payload.Contacts = append(nb.Payload.Contacts, *ci)
	}
	for i, c := range req.GetChats() {
		in := chatFromProto(c)
		if err := in.Validate(now); err != nil {
			// Echoed and stored bounded: a rejection must not cost what
			// the rejected value would have.
			nb.Rejected = append(nb.Rejected, chatsync.RejectedChat{
				Index: int32(i), JID: clip(c.GetJid(), maxEchoBytes), Reason: clip(err.Error(), 2*maxEchoBytes),
			})
			continue
		}
		nb.Payload.Chats = append(nb.Payload.Chats, in)
	}
	log := s.log.With(slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID))
	b, dup, err := tasks.Accept(ctx, s.queue, log, func(ctx context.Context) (chatsync.Batch, bool, error) { return s.store.AcceptBatch(ctx, nb) })
	if err != nil {
		return nil, toConnect(err)
	}
	if !dup {
		log.InfoContext(ctx, "batch accepted", slog.String("batch_id", b.BatchID), slog.String("kind", string(b.Kind)), slog.Int("accepted", int(b.AcceptedCount)), slog.Int("rejected", len(b.Rejected)))
	}
	status := chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED
	if dup {
		status = batchStatuses[b.Status]
	}
	return &chatsyncv1.SyncBatchResponse{
		BatchId: b.BatchID, Status: status, AcceptedCount: b.AcceptedCount,
		Rejected: rejectedToProto(b.Rejected), RejectedContacts: rejectedContactsToProto(b.Rejected), Duplicate: dup,
	}, nil
}

func (s *syncServer) GetSyncBatch(ctx context.Context, req *chatsyncv1.GetSyncBatchRequest) (*chatsyncv1.GetSyncBatchResponse, error) {
	sess, err := callerSession(ctx, s.store, req.GetSessionId())
	if err != nil {
		return nil, toConnect(err)
	}
	b, err := s.store.Batch(ctx, sess.WorkspaceID, sess.ID, req.GetBatchId())
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("batch")
	}
	if err != nil {
		return nil, toConnect(err)
	}
	return &chatsyncv1.GetSyncBatchResponse{Batch: batchToProto(b)}, nil
}

// maxEchoBytes bounds how much of a refused value an answer (and the
// stored rejection) repeats.
const maxEchoBytes = 128

// clip cuts s to at most n bytes on a character boundary, marking the cut,
// and replaces invalid UTF-8, so the echo is always a valid string.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
