// Package meta sends through Meta's WhatsApp Cloud API: the provider of
// meta_cloud sessions. It only sends; Meta's webhooks are not received.
package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatsync/chatsync"
)

// DefaultBaseURL is Meta's Graph API with the version chatsync speaks.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// Client sends through Meta's WhatsApp Cloud API:
// POST {base}/{phone_number_id}/messages with the session's token.
type Client struct {
	base string // with the version
	http *http.Client
}

// NewClient returns a client of the Graph API at base (with its version;
// "" is DefaultBaseURL); a nil hc is a client with a 30 s timeout.
func NewClient(base string, hc *http.Client) *Client {
	if base == "" {
		base = DefaultBaseURL
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: base, http: hc}
}

// Error is an error answer of the Graph API:
// {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}.
type Error struct {
	HTTPStatus int
	Message    string `json:"message"`
	Type       string `json:"type"`
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	FBTraceID  string `json:"fbtrace_id"`
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.HTTPStatus)
	}
	return fmt.Sprintf("Meta Cloud API: %s (type %s, code %d, fbtrace_id %s, HTTP %d)", msg, e.Type, e.Code, e.FBTraceID, e.HTTPStatus)
}

type metaTextMessage struct {
	MessagingProduct string `json:"messaging_product"`
	RecipientType    string `json:"recipient_type"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Text             struct {
		PreviewURL bool   `json:"preview_url"`
		Body       string `json:"body"`
	} `json:"text"`
}

type metaSendResponse struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
	Error *Error `json:"error"`
}

// maxMetaResponse bounds what is read of an answer.
const maxMetaResponse = 1 << 20

// SendText sends a text to a phone number (digits, country code first) and
// returns the message ID Meta assigned ("wamid.…"). The token is never
// logged or put in an error.
func (m *Client) SendText(ctx context.Context, phoneNumberID, token, to, text string) (string, error) {
	msg := metaTextMessage{MessagingProduct: "whatsapp", RecipientType: "individual", To: to, Type: "text"}
	msg.Text.Body = text
	body, err := json.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("encode Meta message: %w", err)
	}
	endpoint := strings.TrimRight(m.base, "/") + "/" + url.PathEscape(phoneNumberID) + "/messages"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("build Meta request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("call Meta Cloud API: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxMetaResponse))
	if err != nil {
		return "", fmt.Errorf("read Meta Cloud API answer: %w", err)
	}
	var out metaSendResponse
	decodeErr := json.Unmarshal(raw, &out)
	if resp.StatusCode/100 != 2 || out.Error != nil {
		e := out.Error
		if e == nil {
			e = &Error{}
		}
		e.HTTPStatus = resp.StatusCode
		return "", e
	}
	if decodeErr != nil {
		return "", fmt.Errorf("decode Meta Cloud API answer: %w", decodeErr)
	}
	if len(out.Messages) == 0 || out.Messages[0].ID == "" {
		return "", fmt.Errorf("meta Cloud API answered %d without a message ID", resp.StatusCode)
	}
	return out.Messages[0].ID, nil
}

// Tokens gives a meta_cloud session's access token, sealed as stored.
type Tokens interface {
	MetaToken(ctx context.Context, workspaceID, id int64) ([]byte, error)
}

// Sender sends through a meta_cloud session: a chatsync.Sender.
type Sender struct {
	client  *Client
	tokens  Tokens
	open    func(sealed []byte) ([]byte, error)
	timeout time.Duration
}

var _ chatsync.Sender = (*Sender)(nil)

// NewSender returns a sender that reads a session's sealed token from
// tokens, opens it with open, and sends with client, each call bounded by
// timeout (default 30 s).
func NewSender(client *Client, tokens Tokens, open func(sealed []byte) ([]byte, error), timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Sender{client: client, tokens: tokens, open: open, timeout: timeout}
}

// Send sends a text to a phone-number chat of the session.
func (s *Sender) Send(ctx context.Context, sess chatsync.Session, chatJID, text string) (string, error) {
	j, err := chatsync.ParseJID(chatJID)
	if err != nil || j.Server != chatsync.ServerUser {
		return "", chatsync.ErrPhoneOnly
	}
	if sess.MetaPhoneNumberID == "" {
		return "", errors.New("the session has no Meta phone number ID")
	}
	sealed, err := s.tokens.MetaToken(ctx, sess.WorkspaceID, sess.ID)
	if err != nil {
		return "", err
	}
	token, err := s.open(sealed)
	if err != nil {
		return "", fmt.Errorf("open the stored Meta token: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return s.client.SendText(ctx, sess.MetaPhoneNumberID, string(token), j.User, text)
}
