package meta

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
			m := NewClient(srv.URL+"/v21.0/", srv.Client())
			id, err := m.SendText(t.Context(), "1065", "secret-token", "15551234567", "hi")
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
		m := NewClient(srv.URL, &http.Client{Timeout: time.Second})
		if _, err := m.SendText(t.Context(), "1", "t", "1", "hi"); err == nil || !strings.Contains(err.Error(), "call Meta Cloud API") {
			t.Errorf("error %v", err)
		}
	})
}
