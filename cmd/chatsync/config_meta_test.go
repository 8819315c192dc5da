package main

import (
	"strings"
	"testing"

	"github.com/chatsync/chatsync/provider/meta"
)

func TestConfigMetaBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value, want, wantErr string
	}{
		{"", meta.DefaultBaseURL, ""},
		{"http://127.0.0.1:9000/v21.0", "http://127.0.0.1:9000/v21.0", ""},
		{"graph.facebook.com", "", "CHATSYNC_META_BASE_URL"},
	}
	for _, tt := range tests {
		cfg, err := configFromEnv(func(k string) string {
			if k == "CHATSYNC_META_BASE_URL" {
				return tt.value
			}
			return ""
		})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want one naming %s", tt.value, err, tt.wantErr)
			}
			continue
		}
		if err != nil || cfg.MetaBaseURL != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.value, cfg.MetaBaseURL, err, tt.want)
		}
	}
}
