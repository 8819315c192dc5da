package simulate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chatsync/chatsync/simulate"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := simulate.DefaultParams()
	valid.SessionID, valid.Secret = "42", "s"
	tests := []struct {
		name   string
		modify func(*simulate.Params)
		want   string // substring of the error; "" means valid
	}{
		{name: "defaults with credentials", modify: func(*simulate.Params) {}},
		{name: "no url", modify: func(p *simulate.Params) { p.URL = "" }, want: "url"},
		{name: "no session", modify: func(p *simulate.Params) { p.SessionID = "" }, want: "session"},
		{name: "no secret", modify: func(p *simulate.Params) { p.Secret = "" }, want: "secret"},
		{name: "negative chats", modify: func(p *simulate.Params) { p.Chats = -1 }, want: "chats"},
		{name: "too many messages", modify: func(p *simulate.Params) { p.Messages = 1001 }, want: "messages"},
		{name: "negative group-every", modify: func(p *simulate.Params) { p.GroupEvery = -1 }, want: "group-every"},
		{name: "no participants", modify: func(p *simulate.Params) { p.Participants = 0 }, want: "participants"},
		{name: "batch too big", modify: func(p *simulate.Params) { p.BatchSize = 501 }, want: "batch size"},
		{name: "no concurrency", modify: func(p *simulate.Params) { p.Concurrency = 0 }, want: "concurrency"},
		{name: "negative live", modify: func(p *simulate.Params) { p.LiveMessages = -1 }, want: "live messages"},
		{name: "live without chats", modify: func(p *simulate.Params) { p.Chats, p.LiveMessages = 0, 1 }, want: "live messages need"},
		{name: "negative rate", modify: func(p *simulate.Params) { p.LiveRate = -1 }, want: "live rate"},
		{name: "run id with space", modify: func(p *simulate.Params) { p.RunID = "a b" }, want: "run id"},
		{name: "run id too long", modify: func(p *simulate.Params) { p.RunID = strings.Repeat("a", 41) }, want: "run id"},
		{name: "empty run id", modify: func(p *simulate.Params) { p.RunID = "" }, want: "run id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := valid
			tt.modify(&p)
			err := p.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
			if tt.want != "" {
				if _, runErr := simulate.Run(t.Context(), p); runErr == nil {
					t.Error("Run accepted invalid params")
				}
			}
		})
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	sum := simulate.Summary{
		Chats: 1000, Messages: 3000, Batches: 20, Accepted: 995, Rejected: 5,
		LiveMessages: 4, FailedBatches: 2, Retries: 3,
		Errors:          map[string]int{"unavailable": 1, "invalid_argument": 1},
		HistoryDuration: 2 * time.Second, ChatsPerSecond: 500, LiveDuration: time.Second, LiveBatches: 2,
		Latency:     simulate.Latency{Count: 20, P50: 10 * time.Millisecond, P95: 20 * time.Millisecond, P99: 30 * time.Millisecond, Max: 31 * time.Millisecond},
		LiveLatency: simulate.Latency{Count: 4, P50: time.Millisecond, P95: time.Millisecond, P99: time.Millisecond, Max: time.Millisecond},
	}
	var b strings.Builder
	if err := sum.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"1000 chats (3000 messages) in 20 batches in 2s: 500 chats/s",
		"995 accepted, 5 rejected",
		"p50 10ms p95 20ms p99 30ms (max 31ms, n=20)",
		"live: 4 messages in 2 batches in 1s",
		"2 failed batches, 3 retries, invalid_argument 1, unavailable 1",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
