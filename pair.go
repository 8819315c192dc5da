package chatsync

import (
	"context"
	"errors"
	"time"
)

// PairStepKind says what a pairing step carries.
type PairStepKind string

// Pairing steps, as PairSession streams them.
const (
	// PairQR: a QR code to show until ExpiresAt, when the next one comes.
	PairQR PairStepKind = "qr"
	// PairPhoneCode: the code to type on the phone (pairing by phone number).
	PairPhoneCode PairStepKind = "phone_code"
	// PairNotice: something the user should know; pairing goes on.
	PairNotice PairStepKind = "notice"
	// PairSuccess: the device is linked; JID and PushName say to whom. Final.
	PairSuccess PairStepKind = "paired"
	// PairFailure: pairing is over without a device; Reason says why. Final.
	PairFailure PairStepKind = "failed"
)

// PairStep is one step of pairing a session with a phone.
type PairStep struct {
	Kind      PairStepKind
	Code      string    // PairQR: the QR payload; PairPhoneCode: the code
	ExpiresAt time.Time // PairQR: when the code rotates
	JID       string    // PairSuccess: the account's JID, without device
	PushName  string    // PairSuccess: the account's name, when already known
	Reason    string    // PairFailure, PairNotice: for a person to read
}

// Final reports whether the step ends pairing.
func (s PairStep) Final() bool { return s.Kind == PairSuccess || s.Kind == PairFailure }

// DefaultHistoryCount is how many messages an on-demand history request
// asks for per chat.
const DefaultHistoryCount = 50

// Anchor is the oldest message chatsync has of a chat: an on-demand history
// request asks the phone for the messages before it.
type Anchor struct {
	ChatJID   string    `json:"chat_jid"`
	MessageID string    `json:"message_id"`
	FromMe    bool      `json:"from_me,omitempty"`
	SenderJID string    `json:"sender_jid,omitempty"`
	Timestamp time.Time `json:"ts"`
}

// Provider sentinels the API maps to codes (server's toConnect).
var (
	// ErrAlreadyPaired: the session has a device linked already.
	ErrAlreadyPaired = errors.New("session is already paired")
	// ErrSessionBusy: another process runs or pairs the session.
	ErrSessionBusy = errors.New("another process owns the session")
)

// Sender sends a text message through one session's provider and returns
// the message ID WhatsApp (or Meta) assigned. SendMessage picks one per
// session provider: whatsmeow, a sidecar's command channel, Meta's Cloud
// API.
type Sender interface {
	Send(ctx context.Context, sess Session, chatJID, text string) (messageID string, err error)
}
