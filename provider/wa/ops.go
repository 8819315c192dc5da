package wa

import (
	"context"
	"errors"
	"fmt"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
)

// ErrNotConnected: the session's client is not connected and logged in to
// WhatsApp right now, so it cannot send; the supervisor is reconnecting.
var ErrNotConnected = errors.New("not connected to WhatsApp")

// DefaultHistoryCount and Anchor are domain names (chatsync); kept here
// for this package's code.
const DefaultHistoryCount = chatsync.DefaultHistoryCount

// Anchor is chatsync.Anchor.
type Anchor = chatsync.Anchor

// Online reports whether the client can send now.
func (s *Session) Online() bool {
	return s.client.IsConnected() && s.client.IsLoggedIn()
}

// Send sends a text message to a chat and returns its WhatsApp message ID.
func (s *Session) Send(ctx context.Context, chatJID, text string) (string, error) {
	to, err := types.ParseJID(chatJID)
	if err != nil {
		return "", fmt.Errorf("send: chat JID %q: %w", chatJID, err)
	}
	if !s.Online() {
		return "", ErrNotConnected
	}
	resp, err := s.client.SendMessage(ctx, to, &waE2E.Message{Conversation: proto.String(text)})
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", to, err)
	}
	return resp.ID, nil
}

// RequestHistory asks the phone for the messages before each anchor
// (whatsmeow's on-demand history sync). The answers arrive later as
// HistorySync events of type ON_DEMAND, which the handler turns into
// history batches.
func (s *Session) RequestHistory(ctx context.Context, anchors []Anchor, count int) error {
	own := s.client.Store.ID
	if own == nil {
		return fmt.Errorf("request history: %w", ErrNotPaired)
	}
	if !s.Online() {
		return ErrNotConnected
	}
	if count <= 0 {
		count = DefaultHistoryCount
	}
	for _, a := range anchors {
		info, err := anchorInfo(a)
		if err != nil {
			return err
		}
		msg := s.client.BuildHistorySyncRequest(info, count)
		if _, err := s.client.SendMessage(ctx, own.ToNonAD(), msg, whatsmeow.SendRequestExtra{Peer: true}); err != nil {
			return fmt.Errorf("request history of %s: %w", a.ChatJID, err)
		}
	}
	return nil
}

// anchorInfo is the MessageInfo BuildHistorySyncRequest reads.
func anchorInfo(a Anchor) (*types.MessageInfo, error) {
	chat, err := types.ParseJID(a.ChatJID)
	if err != nil {
		return nil, fmt.Errorf("anchor chat JID %q: %w", a.ChatJID, err)
	}
	info := &types.MessageInfo{
		MessageSource: types.MessageSource{Chat: chat, IsFromMe: a.FromMe, IsGroup: chat.Server == types.GroupServer},
		ID:            a.MessageID,
		Timestamp:     a.Timestamp,
	}
	if a.SenderJID != "" {
		if sender, err := types.ParseJID(a.SenderJID); err == nil {
			info.Sender = sender
		}
	}
	return info, nil
}

// Logout unlinks the device from the phone; whatsmeow deletes the device
// store's keys for it.
func (s *Session) Logout(ctx context.Context) error {
	if !s.Online() {
		return ErrNotConnected
	}
	if err := s.client.Logout(ctx); err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	return nil
}
