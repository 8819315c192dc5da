package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/store"
)

// maxResyncChats bounds the chats a whole-session whatsmeow resync asks
// history for (one on-demand request each) when max_chats sets no bound.
const maxResyncChats = 100

// ResyncSession asks a session's provider for history again. whatsmeow:
// an on-demand history request per chat (the chat_jid one, or the newest
// chats up to max_chats), anchored at the oldest message stored of it and
// sent to the phone by the process running the session; the answers arrive
// as history batches. Sidecars: a ResyncCommand on the command channel.
// Meta's Cloud API keeps no history: failed_precondition.
func (s *sessionServer) ResyncSession(ctx context.Context, req *chatsyncv1.ResyncSessionRequest) (*chatsyncv1.ResyncSessionResponse, error) {
	sess, err := s.session(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	chatJID := req.GetChatJid()
	if chatJID != "" {
		j, err := chatsync.ParseJID(chatJID)
		if err != nil {
			return nil, invalidArgument("chat_jid: %v", err)
		}
		chatJID = j.Bare()
	}
	switch sess.Provider {
	case chatsync.ProviderWebJS:
		if s.sidecars == nil {
			return nil, errNoSidecars
		}
		cmd, err := s.sidecars.Issue(ctx, sess, store.CommandResync, chatJID, "")
		if err != nil {
			return nil, toConnect(err)
		}
		return &chatsyncv1.ResyncSessionResponse{CommandId: strconv.FormatInt(cmd.ID, 10)}, nil
	case chatsync.ProviderWhatsmeow:
		return &chatsyncv1.ResyncSessionResponse{}, s.resyncWhatsmeow(ctx, sess, chatJID)
	}
	return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("a meta_cloud session has no history to sync again: Meta's Cloud API keeps none"))
}

func (s *sessionServer) resyncWhatsmeow(ctx context.Context, sess chatsync.Session, chatJID string) error {
	if s.wa == nil {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("whatsmeow is not enabled on this server"))
	}
	limit := maxResyncChats
	if m := int(sess.SyncConfig.MaxChats); m > 0 && m < limit {
		limit = m
	}
	found, err := s.store.HistoryAnchors(ctx, sess.ID, chatJID, limit)
	if err != nil {
		return toConnect(err)
	}
	if len(found) == 0 {
		what := "the session has no stored message"
		if chatJID != "" {
			what = "chatsync has no message of " + chatJID
		}
		return connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("%s to anchor an on-demand history request (WhatsApp sends what came before a known message)", what))
	}
	anchors := make([]chatsync.Anchor, len(found))
	for i, a := range found {
		anchors[i] = chatsync.Anchor{ChatJID: a.ChatJID, MessageID: a.MessageID, FromMe: a.FromMe, SenderJID: a.SenderJID, Timestamp: a.SentAt}
	}
	err = s.wa.RequestHistory(ctx, sess.ID, anchors, chatsync.DefaultHistoryCount)
	switch {
	case err == nil:
		s.log.InfoContext(ctx, "history requested", slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID), slog.Int("chats", len(anchors)))
		return nil
	case errors.Is(err, chatsync.ErrProviderUnavailable):
		return unavailable("the session is not connected to WhatsApp right now; retry once it is", err)
	case ctx.Err() != nil:
		return toConnect(ctx.Err())
	}
	return unavailable("WhatsApp refused the history request; retry later", err)
}
