package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/server/servertest"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFailedCallLogsCarryTheTokensWorkspace proves the outermost logging
// interceptor learns the workspace the inner auth interceptor resolved.
func TestFailedCallLogsCarryTheTokensWorkspace(t *testing.T) {
	var logs syncBuffer
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	ws, token := env.Workspace(t, "logged")
	c := env.Clients(token)
	want := `"workspace_id":` + strconv.FormatInt(ws, 10)
	tests := []struct {
		name      string
		procedure string
		do        func(ctx context.Context) error
	}{
		{"unary", "/chatsync.v1.ChatService/GetChat", func(ctx context.Context) error {
			_, err := c.Chat.GetChat(ctx, &chatsyncv1.GetChatRequest{ChatId: "999999"})
			return err
		}},
		{"stream", "/chatsync.v1.ChatService/StreamChatUpdates", func(ctx context.Context) error {
			st, err := c.Chat.StreamChatUpdates(ctx, &chatsyncv1.StreamChatUpdatesRequest{SessionIds: []string{"999999"}})
			if err != nil {
				return err
			}
			defer st.Close()
			for st.Receive() {
			}
			return st.Err()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if err := tt.do(ctx); connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("code = %v (%v), want not_found", connect.CodeOf(err), err)
			}
			// The log line is written after the response; poll for it.
			for {
				for _, line := range strings.Split(logs.String(), "\n") {
					if strings.Contains(line, `"procedure":"`+tt.procedure+`"`) {
						if !strings.Contains(line, want) || !strings.Contains(line, `"code":"not_found"`) {
							t.Fatalf("log line %s lacks %s", line, want)
						}
						return
					}
				}
				select {
				case <-ctx.Done():
					t.Fatalf("no log line for %s in:\n%s", tt.procedure, logs.String())
				case <-time.After(10 * time.Millisecond):
				}
			}
		})
	}
}
