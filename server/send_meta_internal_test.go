package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync/provider/wa"
	"github.com/chatsync/chatsync/store"
)

func TestMetaClientAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		body    string
		wantID  string
		wantErr []string
	}{
		{"success", 200, `{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.ABC"}]}`, "wamid.ABC", nil},
		{"rate limited", 429, `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_subcode":2494055,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`, "", []string{"(#130429) Rate limit hit", "code 130429", "HTTP 429"}},
		{"error body with 200", 200, `{"error":{"message":"Recipient phone number not in allowed list","type":"OAuthException","code":131030,"fbtrace_id":"X"}}`, "", []string{"not in allowed list", "code 131030"}},
		{"gateway page", 502, `<html>Bad Gateway</html>`, "", []string{"Bad Gateway", "HTTP 502"}},
		{"no message ID", 200, `{"messaging_product":"whatsapp","messages":[]}`, "", []string{"without a message ID"}},
		{"not JSON", 200, `ok`, "", []string{"decode Meta Cloud API answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			m := &metaClient{base: srv.URL + "/v21.0/", http: srv.Client()}
			id, err := m.sendText(t.Context(), "1065", "secret-token", "15551234567", "hi")
			if id != tt.wantID {
				t.Errorf("id %q, want %q", id, tt.wantID)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error reveals the token: %v", err)
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("error %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		m := &metaClient{base: srv.URL, http: &http.Client{Timeout: time.Second}}
		if _, err := m.sendText(t.Context(), "1", "t", "1", "hi"); err == nil || !strings.Contains(err.Error(), "call Meta Cloud API") {
			t.Errorf("error %v", err)
		}
	})
}

func TestPairingPhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "+1 (555) 000-1111": "15550001111", "62.812.345.6789": "628123456789"} {
		if got, err := pairingPhone(in); err != nil || got != want {
			t.Errorf("pairingPhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"12345", "+0812345678", "call me", "1234567890123456"} {
		if _, err := pairingPhone(in); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("pairingPhone(%q): %v, want invalid_argument", in, err)
		}
	}
}

func TestPairStepToProto(t *testing.T) {
	t.Parallel()
	if pairStepToProto(wa.PairStep{Kind: wa.PairNotice, Reason: "scan again"}) != nil {
		t.Error("a notice became a stream message")
	}
	if m := pairStepToProto(wa.PairStep{Kind: wa.PairFailure, Reason: "timeout"}); m.GetFailure().GetReason() != "timeout" {
		t.Errorf("failure %v", m)
	}
}

func TestStreamEndAndCommandProto(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	if err := streamEnd(ctx, errors.New("db down")); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("streamEnd = %v", err)
	}
	cancel()
	if err := streamEnd(ctx, errors.New("db down")); err != nil {
		t.Errorf("streamEnd after the client left = %v", err)
	}
	if c := commandToProto(store.Command{ID: 3, Kind: "other"}); c.GetCommandId() != "3" || c.GetCommand() != nil {
		t.Errorf("unknown kind %v", c)
	}
}
