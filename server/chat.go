package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/store"
)

// chatStore is what ChatService needs of the store.
type chatStore interface {
	ListChats(ctx context.Context, f store.ChatFilter, after *store.ChatCursor, limit int) ([]chatsync.ChatView, error)
	Chat(ctx context.Context, workspaceID, chatID int64) (chatsync.ChatView, error)
	Participants(ctx context.Context, workspaceID, chatID int64) ([]chatsync.Participant, error)
	ListMessages(ctx context.Context, workspaceID, chatID int64, after *store.MessageCursor, limit int) ([]chatsync.Message, error)
	SessionsByIDs(ctx context.Context, workspaceID int64, ids []int64) ([]chatsync.Session, error)
}

// subscriber opens event subscriptions.
type subscriber interface {
	Subscribe(ctx context.Context, workspaceID int64, resumeID string) (*events.Subscription, error)
}

type chatServer struct {
	store     chatStore
	hub       subscriber
	keys      Keys
	log       *slog.Logger
	heartbeat time.Duration
	streams   *streamLimiter
	// sendServer serves SendMessage (send.go).
	*sendServer
}

var _ chatsyncv1connect.ChatServiceHandler = (*chatServer)(nil)

func parseIDs(field string, raw []string) ([]int64, error) {
	ids := make([]int64, 0, len(raw))
	for i, s := range raw {
		id, err := parseID(fmt.Sprintf("%s[%d]", field, i), s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// sessionFilter parses session_ids and makes sure every one is a session of
// the caller's workspace: naming another workspace's session (or a deleted
// one) is not_found, exactly as if it had never existed.
func (s *chatServer) sessionFilter(ctx context.Context, workspaceID int64, raw []string) ([]int64, error) {
	ids, err := parseIDs("session_ids", raw)
	if err != nil {
		return nil, err
	}
	return ids, s.ownSessions(ctx, workspaceID, ids, nil)
}

// ownSessions answers not_found unless every session in ids is the
// workspace's. Sessions with a chat on page need no lookup: a page holds
// only the workspace's chats, and a chat's session is of its workspace.
func (s *chatServer) ownSessions(ctx context.Context, workspaceID int64, ids []int64, page []chatsync.ChatView) error {
	unseen := slices.DeleteFunc(slices.Clone(ids), func(id int64) bool {
		return slices.ContainsFunc(page, func(c chatsync.ChatView) bool { return c.SessionID == id })
	})
	if len(unseen) == 0 {
		return nil
	}
	found, err := s.store.SessionsByIDs(ctx, workspaceID, unseen)
	if err != nil {
		return toConnect(err)
	}
	if len(found) != len(unseen) {
		return notFound("session")
	}
	return nil
}

// ListChats pages through the workspace's chats by (last_activity_at, id)
// descending. What a client walking every page sees while chats change:
// each chat at most once, since a chat only ever moves towards the front
// (activity never goes back) and so lands before the cursor. A chat created
// or bumped during the walk lands before the cursor as well and is not in
// this walk; the stream delivers it as chat_upserted. A walk therefore
// returns every chat that was not touched while it ran, exactly once.
func (s *chatServer) ListChats(ctx context.Context, req *chatsyncv1.ListChatsRequest) (*chatsyncv1.ListChatsResponse, error) {
	p := mustPrincipal(ctx)
	sessions, err := parseIDs("session_ids", req.GetSessionIds())
	if err != nil {
		return nil, err
	}
	f := store.ChatFilter{
		WorkspaceID: p.workspaceID, SessionIDs: sessions, Type: chatTypeFromProto(req.GetType()),
		Query: strings.TrimSpace(req.GetQuery()), UnreadOnly: req.GetUnreadOnly(), Archived: req.Archived, Pinned: req.Pinned,
	}
	filters := fmt.Sprintf("chats|%d|%v|%s|%q|%t", p.workspaceID, sessions, f.Type, f.Query, f.UnreadOnly)
	if f.Archived != nil {
		// Appended only when set, so page tokens issued before the filter
		// existed stay valid.
		filters += fmt.Sprintf("|archived=%t", *f.Archived)
	}
	if f.Pinned != nil {
		filters += fmt.Sprintf("|pinned=%t", *f.Pinned)
	}
	var after *store.ChatCursor
	if tok := req.GetPageToken(); tok != "" {
		c, err := s.keys.decodePageToken(tok, filters)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		after = &store.ChatCursor{LastActivityAt: c.at, ID: c.id}
	}
	size := pageSize(req.GetPageSize())
	chats, err := s.store.ListChats(ctx, f, after, size+1)
	if err != nil {
		return nil, toConnect(err)
	}
	// Checked after the page, which usually proves it without a query.
	if err := s.ownSessions(ctx, p.workspaceID, sessions, chats); err != nil {
		return nil, err
	}
	res := &chatsyncv1.ListChatsResponse{}
	if len(chats) > size {
		chats = chats[:size]
		last := chats[size-1]
		at := last.LastActivityAt
		if at.IsZero() {
			at = time.Unix(0, 0)
		}
		res.NextPageToken = s.keys.encodePageToken(cursor{at: at, id: last.ID}, filters)
	}
	for _, c := range chats {
		res.Chats = append(res.Chats, chatToProto(c))
	}
	return res, nil
}

func (s *chatServer) GetChat(ctx context.Context, req *chatsyncv1.GetChatRequest) (*chatsyncv1.GetChatResponse, error) {
	c, err := s.chat(ctx, req.GetChatId())
	if err != nil {
		return nil, err
	}
	res := &chatsyncv1.GetChatResponse{Chat: chatToProto(c)}
	if c.Type == chatsync.ChatGroup {
		parts, err := s.store.Participants(ctx, c.WorkspaceID, c.ID)
		if err != nil {
			return nil, toConnect(err)
		}
		for _, pt := range parts {
			res.Participants = append(res.Participants, participantToProto(pt))
		}
	}
	return res, nil
}

func (s *chatServer) ListMessages(ctx context.Context, req *chatsyncv1.ListMessagesRequest) (*chatsyncv1.ListMessagesResponse, error) {
	p := mustPrincipal(ctx)
	id, err := parseID("chat_id", req.GetChatId())
	if err != nil {
		return nil, err
	}
	filters := "messages|" + strconv.FormatInt(p.workspaceID, 10) + "|" + strconv.FormatInt(id, 10)
	var after *store.MessageCursor
	if tok := req.GetPageToken(); tok != "" {
		c, err := s.keys.decodePageToken(tok, filters)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		after = &store.MessageCursor{SentAt: c.at, ID: c.id}
	}
	size := pageSize(req.GetPageSize())
	msgs, err := s.store.ListMessages(ctx, p.workspaceID, id, after, size+1)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("chat")
	}
	if err != nil {
		return nil, toConnect(err)
	}
	res := &chatsyncv1.ListMessagesResponse{}
	if len(msgs) > size {
		msgs = msgs[:size]
		last := msgs[size-1]
		res.NextPageToken = s.keys.encodePageToken(cursor{at: last.SentAt, id: last.ID}, filters)
	}
	for _, m := range msgs {
		res.Messages = append(res.Messages, messageToProto(m))
	}
	return res, nil
}

func (s *chatServer) StreamChatUpdates(ctx context.Context, req *chatsyncv1.StreamChatUpdatesRequest, stream *connect.ServerStream[chatsyncv1.StreamChatUpdatesResponse]) error {
	p := mustPrincipal(ctx)
	release, err := s.streams.acquire(p.token)
	if err != nil {
		return err
	}
	defer release()
	sessions, err := s.sessionFilter(ctx, p.workspaceID, req.GetSessionIds())
	if err != nil {
		return err
	}
	sub, err := s.hub.Subscribe(ctx, p.workspaceID, req.GetResumeToken())
	switch {
	case errors.Is(err, events.ErrBadToken):
		return invalidArgument("resume_token: not an event_id of this stream")
	case errors.Is(err, events.ErrTooOld):
		return connect.NewError(connect.CodeOutOfRange, errors.New("resume_token is older than the retained events: reload the chat list, then stream without a resume_token"))
	case err != nil:
		return unavailable("live updates are unavailable right now; retry", fmt.Errorf("subscribe to events: %w", err))
	}
	defer sub.Close()
	// A heartbeat right away sends the headers: the client knows the
	// subscription is live before the first event. After that one goes
	// out whenever nothing was sent for s.heartbeat, counted from the last
	// message sent, not the last event read: events the session filter
	// drops must not keep a filtered stream silent.
	heartbeat := func() error {
		return stream.Send(&chatsyncv1.StreamChatUpdatesResponse{
			EventTime: ts(time.Now()), Event: &chatsyncv1.StreamChatUpdatesResponse_Heartbeat{Heartbeat: &chatsyncv1.Heartbeat{}},
		})
	}
	if err := heartbeat(); err != nil {
		return nil
	}
	idle := time.NewTimer(s.heartbeat)
	defer idle.Stop()
	for {
		ev, err := sub.NextUntil(ctx, idle.C)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil // the client went away
		case errors.Is(err, events.ErrIdle):
			if err := heartbeat(); err != nil {
				return nil
			}
			idle.Reset(s.heartbeat)
			continue
		case errors.Is(err, events.ErrSlow):
			return connect.NewError(connect.CodeUnavailable, errors.New("stream fell behind: reconnect with the last event_id as resume_token"))
		case errors.Is(err, events.ErrStopped):
			return connect.NewError(connect.CodeUnavailable, errors.New("server shutting down: reconnect with the last event_id as resume_token"))
		default:
			return unavailable("live updates were interrupted: reconnect with the last event_id as resume_token", err)
		}
		if len(sessions) > 0 && !slices.Contains(sessions, ev.SessionID) {
			continue
		}
		msg := eventToProto(ev)
		if msg == nil {
			continue
		}
		if err := stream.Send(msg); err != nil {
			return nil
		}
		idle.Reset(s.heartbeat)
	}
}

// chat resolves a chat of the caller's workspace; another workspace's chat
// is not_found.
func (s *chatServer) chat(ctx context.Context, raw string) (chatsync.ChatView, error) {
	p := mustPrincipal(ctx)
	id, err := parseID("chat_id", raw)
	if err != nil {
		return chatsync.ChatView{}, err
	}
	c, err := s.store.Chat(ctx, p.workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, notFound("chat")
	}
	if err != nil {
		return c, toConnect(err)
	}
	return c, nil
}
