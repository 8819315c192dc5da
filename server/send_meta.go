package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMetaBaseURL is Meta's Graph API with the version chatsync speaks.
const DefaultMetaBaseURL = "https://graph.facebook.com/v21.0"

// metaClient sends through Meta's WhatsApp Cloud API:
// POST {base}/{phone_number_id}/messages with the session's token.
type metaClient struct {
	base string // with the version, no trailing slash
	http *http.Client
}

// metaError is an error answer of the Graph API:
// {"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}.
type metaError struct {
	HTTPStatus int
	Message    string `json:"message"`
	Type       string `json:"type"`
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	FBTraceID  string `json:"fbtrace_id"`
}

func (e *metaError) Error() string {
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
	Error *metaError `json:"error"`
}

// maxMetaResponse bounds what is read of an answer.
const maxMetaResponse = 1 << 20

// sendText sends a text to a phone number (digits, country code first) and
// returns the message ID Meta assigned ("wamid.…"). The token is never
// logged or put in an error.
func (m *metaClient) sendText(ctx context.Context, phoneNumberID, token, to, text string) (string, error) {
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
			e = &metaError{}
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
