package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/server/servertest"
)

// http1 is env's client restricted to HTTP/1.1.
func http1(env *servertest.Env) *http.Client {
	tr := env.HTTP.Transport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	tr.TLSClientConfig = tr.TLSClientConfig.Clone()
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	return &http.Client{Transport: tr}
}

// trickle is a body that sends one byte every gap until closed.
type trickle struct {
	gap  time.Duration
	done chan struct{}
}

func (b *trickle) Read(p []byte) (int, error) {
	select {
	case <-time.After(b.gap):
		p[0] = '{'
		return 1, nil
	case <-b.done:
		return 0, io.EOF
	}
}

// A body trickled at one byte per 100 ms is cut off at the body timeout
// (here 300 ms), over HTTP/1.1 and HTTP/2, instead of being held until it
// ends; a server stream outlives the timeout, with its heartbeats.
func TestBodyTimeout(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.BodyTimeout = 300 * time.Millisecond }})
	_, token := env.Workspace(t, "slow")
	for name, hc := range map[string]*http.Client{"http1": http1(env), "http2": env.HTTP} {
		t.Run(name+"/trickled body", func(t *testing.T) {
			body := &trickle{gap: 100 * time.Millisecond, done: make(chan struct{})}
			defer close(body.done)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.URL+"/chatsync.v1.SessionService/ListSessions", io.NopCloser(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			start := time.Now()
			res, err := hc.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					t.Fatalf("a trickled body was accepted (%s)", res.Status)
				}
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("the trickled request was held %s", took)
			}
		})
	}
	for _, p := range []struct {
		name string
		hc   *http.Client
		opts []connect.ClientOption
	}{{"connect over http1", http1(env), nil}, {"grpc over http2", env.HTTP, []connect.ClientOption{connect.WithGRPC()}}} {
		t.Run(p.name+"/stream outlives it", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c := chatsyncv1connect.NewChatServiceClient(p.hc, env.URL, append(p.opts, connect.WithInterceptors(bearerToken(token)))...)
			st, err := c.StreamChatUpdates(ctx, &chatsyncv1.StreamChatUpdatesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			start := time.Now()
			beats := 0
			for time.Since(start) < 2500*time.Millisecond {
				if !st.Receive() {
					t.Fatalf("stream ended after %s: %v", time.Since(start), st.Err())
				}
				if st.Msg().GetHeartbeat() != nil {
					beats++
				}
			}
			if beats < 3 {
				t.Fatalf("%d heartbeats in 2.5 s", beats)
			}
		})
	}
}

// One API token holds at most StreamsPerToken streams on a server: the
// next is refused resource_exhausted naming the limit, another token is
// not affected, and closing a stream frees its place.
func TestStreamsPerToken(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Tune: func(p *server.Params) { p.StreamsPerToken = 2 }})
	_, token := env.Workspace(t, "streamer")
	_, other := env.Workspace(t, "other")
	open := func(tok string) (*connect.ServerStreamForClient[chatsyncv1.StreamChatUpdatesResponse], error) {
		st, err := env.Clients(tok).Chat.StreamChatUpdates(t.Context(), &chatsyncv1.StreamChatUpdatesRequest{})
		if err != nil {
			return nil, err
		}
		if !st.Receive() {
			st.Close()
			return nil, st.Err()
		}
		return st, nil
	}
	a, err := open(token)
	if err != nil {
		t.Fatal(err)
	}
	b, err := open(token)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = open(token)
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || !strings.Contains(ce.Message(), "2 open streams per API token") {
		t.Fatalf("third stream: %v, want resource_exhausted naming the limit", err)
	}
	o, err := open(other)
	if err != nil {
		t.Fatalf("another token's stream: %v", err)
	}
	defer o.Close()
	a.Close()
	var again *connect.ServerStreamForClient[chatsyncv1.StreamChatUpdatesResponse]
	deadline := time.Now().Add(5 * time.Second)
	for again == nil {
		if again, err = open(token); err != nil && time.Now().After(deadline) {
			t.Fatalf("after closing one: %v", err)
		}
		if err != nil {
			time.Sleep(20 * time.Millisecond) // the server sees the close when its next send fails or the context ends
		}
	}
	again.Close()
}
