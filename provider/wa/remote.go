package wa

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
)

// A whatsmeow session runs in exactly one process, the holder of its lease.
// Other processes (a server answering SendMessage, ResyncSession or
// DeleteSession) reach it through Redis: a request is published on the
// session's channel, which only the owner subscribes to, and the owner
// pushes the response on a list named after the request, which the caller
// pops with a timeout. PUBLISH returns the number of subscribers, so a
// session no process runs is known at once (ErrNoOwner), without waiting.

// RequestKind is what a request asks of a session's owner.
type RequestKind string

// Request kinds.
const (
	RequestSend    RequestKind = "send"
	RequestHistory RequestKind = "history"
	RequestLogout  RequestKind = "logout"
)

// Request is one call to a session's owner.
type Request struct {
	ID        string      `json:"id"`
	SessionID int64       `json:"session_id"`
	Kind      RequestKind `json:"kind"`
	ChatJID   string      `json:"chat_jid,omitempty"`
	Text      string      `json:"text,omitempty"`
	Anchors   []Anchor    `json:"anchors,omitempty"`
	Count     int         `json:"count,omitempty"`
}

// Response is the owner's answer.
type Response struct {
	MessageID string `json:"message_id,omitempty"`
	Error     string `json:"error,omitempty"`
	// Offline: the owner runs the session but is not connected to WhatsApp
	// right now (the request was not tried), as opposed to WhatsApp
	// refusing it.
	Offline bool `json:"offline,omitempty"`
}

// Errors of Call.
var (
	// ErrNoOwner: no process runs the session (not paired, not connected by
	// any worker, or every worker is down).
	ErrNoOwner = fmt.Errorf("no process runs the session: %w", chatsync.ErrProviderUnavailable)
	// ErrNoAnswer: the owner did not answer in time.
	ErrNoAnswer = fmt.Errorf("the session's process did not answer in time: %w", chatsync.ErrProviderUnavailable)
)

func requestChannel(sessionID int64) string {
	return "chatsync:wa:{" + strconv.FormatInt(sessionID, 10) + "}:req"
}

func responseKey(id string) string { return "chatsync:wa:resp:" + id }

// responseTTL bounds how long an unread response stays in Redis (its caller
// gave up).
const responseTTL = time.Minute

// Call sends req to the process that runs req.SessionID and waits up to
// timeout for its answer.
func Call(ctx context.Context, rdb redis.UniversalClient, req Request, timeout time.Duration) (Response, error) {
	req.ID = rand.Text()
	b, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("encode %s request: %w", req.Kind, err)
	}
	n, err := rdb.Publish(ctx, requestChannel(req.SessionID), b).Result()
	if err != nil {
		return Response{}, fmt.Errorf("publish %s request: %w", req.Kind, err)
	}
	if n == 0 {
		return Response{}, ErrNoOwner
	}
	res, err := rdb.BLPop(ctx, timeout, responseKey(req.ID)).Result()
	if errors.Is(err, redis.Nil) {
		return Response{}, ErrNoAnswer
	}
	if err != nil {
		return Response{}, fmt.Errorf("wait for %s response: %w", req.Kind, err)
	}
	var resp Response
	if err := json.Unmarshal([]byte(res[1]), &resp); err != nil {
		return Response{}, fmt.Errorf("decode %s response: %w", req.Kind, err)
	}
	return resp, nil
}

// Handler answers the requests of one session.
type Handler func(ctx context.Context, req Request) Response

// Responder is the owner side: one Redis subscription per process, on the
// channels of the sessions it runs.
type Responder struct {
	rdb redis.UniversalClient
	log *slog.Logger
	ps  *redis.PubSub

	mu       sync.Mutex
	handlers map[string]Handler // by channel
	wg       sync.WaitGroup
}

// NewResponder opens the responder's subscription (on no channel yet).
func NewResponder(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger) *Responder {
	return &Responder{rdb: rdb, log: log, ps: rdb.Subscribe(ctx), handlers: make(map[string]Handler)}
}

// Serve routes a session's requests to h from now on. It returns once Redis
// confirmed the subscription, so a Call made after it reaches h.
func (r *Responder) Serve(ctx context.Context, sessionID int64, h Handler) error {
	ch := requestChannel(sessionID)
	r.mu.Lock()
	r.handlers[ch] = h
	r.mu.Unlock()
	if err := r.ps.Subscribe(ctx, ch); err != nil {
		return fmt.Errorf("subscribe to requests of session %d: %w", sessionID, err)
	}
	// SUBSCRIBE is confirmed on the subscription's own connection, which
	// Run reads; NUMSUB shows when it took effect.
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		n, err := r.rdb.PubSubNumSub(ctx, ch).Result()
		if err != nil {
			return fmt.Errorf("confirm subscription of session %d: %w", sessionID, err)
		}
		if n[ch] > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Stop ends routing a session's requests.
func (r *Responder) Stop(ctx context.Context, sessionID int64) {
	ch := requestChannel(sessionID)
	r.mu.Lock()
	delete(r.handlers, ch)
	r.mu.Unlock()
	if err := r.ps.Unsubscribe(ctx, ch); err != nil {
		r.log.WarnContext(ctx, "unsubscribe from session requests", slog.Int64("session_id", sessionID), slog.String("error", err.Error()))
	}
}

// Run answers requests until ctx is done, each in its own goroutine, then
// waits for those and closes the subscription.
func (r *Responder) Run(ctx context.Context) {
	defer func() {
		r.wg.Wait()
		_ = r.ps.Close()
	}()
	msgs := r.ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			r.mu.Lock()
			h := r.handlers[m.Channel]
			r.mu.Unlock()
			if h == nil {
				continue
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.answer(ctx, h, m.Payload)
			}()
		}
	}
}

func (r *Responder) answer(ctx context.Context, h Handler, payload string) {
	var req Request
	if err := json.Unmarshal([]byte(payload), &req); err != nil || req.ID == "" {
		r.log.WarnContext(ctx, "undecodable session request", slog.Any("error", err))
		return
	}
	resp := h(ctx, req)
	b, err := json.Marshal(resp)
	if err != nil {
		return
	}
	pipe := r.rdb.TxPipeline()
	pipe.RPush(ctx, responseKey(req.ID), b)
	pipe.Expire(ctx, responseKey(req.ID), responseTTL)
	if _, err := pipe.Exec(context.WithoutCancel(ctx)); err != nil {
		r.log.ErrorContext(ctx, "answer session request", slog.Int64("session_id", req.SessionID),
			slog.String("kind", string(req.Kind)), slog.String("error", err.Error()))
	}
}
