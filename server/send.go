package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/store"
)

// sendStore is what SendMessage needs of the store.
type sendStore interface {
	Chat(ctx context.Context, workspaceID, chatID int64) (chatsync.ChatView, error)
	Session(ctx context.Context, workspaceID, id int64) (chatsync.Session, error)
	BackupSession(ctx context.Context, workspaceID int64) (chatsync.Session, error)
	HasChat(ctx context.Context, sessionID int64, jid string) (bool, error)
	WriteChunk(ctx context.Context, workspaceID, sessionID int64, chats []chatsync.ChatInput, contacts []chatsync.ContactInput) (store.Written, error)
}

// whatsmeowSender sends through the process running a whatsmeow session
// (wa.Manager).
type whatsmeowSender interface {
	Send(ctx context.Context, sessionID int64, chatJID, text string) (string, error)
}

// whatsmeowSend is a chatsync.Sender over the process running a whatsmeow
// session.
type whatsmeowSend struct {
	wa      whatsmeowSender
	timeout time.Duration
}

func (w whatsmeowSend) Send(ctx context.Context, sess chatsync.Session, chatJID, text string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	return w.wa.Send(ctx, sess.ID, chatJID, text)
}

// sendServer serves ChatService.SendMessage: the seed's provider selector.
type sendServer struct {
	store sendStore
	// senders has one sender per provider this server can send through.
	senders map[chatsync.Provider]chatsync.Sender
	pub     eventPublisher
	log     *slog.Logger
	now     func() time.Time
}

// SendMessage sends through the chat's session; when that provider cannot
// send, through the workspace's backup session if it can reach the chat;
// with neither, unavailable naming every provider tried and why. The sent
// message is stored (from_me) in the chat of the session that sent it, and
// chat_upserted and message_added events go out.
func (s *sendServer) SendMessage(ctx context.Context, req *chatsyncv1.SendMessageRequest) (*chatsyncv1.SendMessageResponse, error) {
	p := mustPrincipal(ctx)
	id, err := parseID("chat_id", req.GetChatId())
	if err != nil {
		return nil, err
	}
	chat, err := s.store.Chat(ctx, p.workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("chat")
	}
	if err != nil {
		return nil, toConnect(err)
	}
	primary, err := s.store.Session(ctx, chat.WorkspaceID, chat.SessionID)
	if err != nil {
		return nil, toConnect(err)
	}
	candidates := []chatsync.Session{primary}
	var skipped string
	backup, err := s.store.BackupSession(ctx, chat.WorkspaceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, toConnect(err)
	case backup.ID == primary.ID:
	default:
		reach, why, err := s.canReach(ctx, backup, chat)
		if err != nil {
			return nil, toConnect(err)
		}
		if reach {
			candidates = append(candidates, backup)
		} else {
			skipped = fmt.Sprintf("; backup %s (session %d) skipped: %s", backup.Provider, backup.ID, why)
		}
	}
	log := s.log.With(slog.Int64("workspace_id", chat.WorkspaceID), slog.String("chat_jid", chat.JID))
	var tried []string
	for i, sess := range candidates {
		msgID, err := s.sendVia(ctx, sess, chat, req.GetText())
		if ctx.Err() != nil {
			return nil, toConnect(ctx.Err())
		}
		if err != nil {
			log.WarnContext(ctx, "provider could not send", slog.Int64("session_id", sess.ID),
				slog.String("provider", string(sess.Provider)), slog.String("error", err.Error()))
			tried = append(tried, fmt.Sprintf("%s (session %d): %v", sess.Provider, sess.ID, err))
			continue
		}
		s.record(ctx, log, sess, chat, msgID, req.GetText())
		log.InfoContext(ctx, "message sent", slog.Int64("session_id", sess.ID), slog.String("provider", string(sess.Provider)), slog.Bool("failed_over", i > 0))
		return &chatsyncv1.SendMessageResponse{
			MessageId: msgID, SessionId: strconv.FormatInt(sess.ID, 10), Provider: providerToProto(sess.Provider), FailedOver: i > 0,
		}, nil
	}
	if len(candidates) == 1 && skipped == "" {
		skipped = "; no backup session is set for the workspace"
	}
	return nil, connect.NewError(connect.CodeUnavailable,
		fmt.Errorf("no provider could send the message; tried %s%s", strings.Join(tried, "; "), skipped))
}

// canReach reports whether a backup session can send to a chat of another
// session: Meta's Cloud API reaches phone numbers only, and a group only
// from an account that is in it (the backup has the group's chat).
func (s *sendServer) canReach(ctx context.Context, backup chatsync.Session, chat chatsync.ChatView) (bool, string, error) {
	j, err := chatsync.ParseJID(chat.JID)
	if err != nil {
		return false, "the chat's JID is not one it can address", nil
	}
	switch {
	case backup.Provider == chatsync.ProviderMetaCloud && j.Server != chatsync.ServerUser:
		return false, chatsync.ErrPhoneOnly.Error(), nil
	case j.IsGroup():
		in, err := s.store.HasChat(ctx, backup.ID, chat.JID)
		if err != nil || in {
			return in, "", err
		}
		return false, "it is not in the group", nil
	}
	return true, "", nil
}

// sendVia sends through one session's provider.
func (s *sendServer) sendVia(ctx context.Context, sess chatsync.Session, chat chatsync.ChatView, text string) (string, error) {
	snd, ok := s.senders[sess.Provider]
	if !ok {
		return "", fmt.Errorf("%s is not enabled on this server", sess.Provider)
	}
	return snd.Send(ctx, sess, chat.JID, text)
}

// record stores the sent message and publishes it. The message is sent
// already, so a failure here is logged, not returned: the provider's own
// echo (whatsmeow, sidecars) stores it again under the same ID.
func (s *sendServer) record(ctx context.Context, log *slog.Logger, sess chatsync.Session, chat chatsync.ChatView, msgID, text string) {
	ctx = context.WithoutCancel(ctx)
	now := s.now().UTC()
	in := chatsync.ChatInput{
		JID: chat.JID, Type: chat.Type,
		Messages: []chatsync.MessageInput{{ID: msgID, FromMe: true, Timestamp: now, Text: text}},
	}
	if err := in.Validate(now); err != nil {
		log.ErrorContext(ctx, "sent message not stored", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
		return
	}
	w, err := s.store.WriteChunk(ctx, sess.WorkspaceID, sess.ID, []chatsync.ChatInput{in}, nil)
	if err != nil {
		log.ErrorContext(ctx, "store sent message", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
		return
	}
	if _, err := s.pub.Publish(ctx, chatsync.WrittenEvents(sess.WorkspaceID, sess.ID, now, w.Chats, w.Messages, w.Updated)...); err != nil {
		log.WarnContext(ctx, "publish sent message", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
	}
}
