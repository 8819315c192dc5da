package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync/client"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/server/servertest"
	"github.com/chatsync/chatsync/signing"
)

// sidecar is a session created through the API, with the secret it was
// given.
type sidecar struct {
	id     string
	secret string
}

func createSidecar(t *testing.T, api servertest.Clients, name string, cfg *chatsyncv1.SyncConfig) sidecar {
	t.Helper()
	res, err := api.Session.CreateSession(t.Context(), &chatsyncv1.CreateSessionRequest{
		DisplayName: name, Provider: chatsyncv1.Provider_PROVIDER_WEBJS, SyncConfig: cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sidecar{id: res.GetSession().GetId(), secret: res.GetSidecarSecret()}
}

// signer signs requests like a sidecar, then lets a case tamper with the
// headers or the body it sends.
type signer struct {
	base    http.RoundTripper
	session string
	secret  string
	at      time.Time     // zero: now
	skew    time.Duration // added to the clock at send time
	tamper  func(h http.Header, body []byte) []byte
}

func (s *signer) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body.Close()
	at := s.at
	if at.IsZero() {
		at = time.Now().Add(s.skew)
	}
	r := req.Clone(req.Context())
	r.Header.Set(signing.HeaderSession, s.session)
	r.Header.Set(signing.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	r.Header.Set(signing.HeaderSignature, signing.Sign([]byte(s.secret), at.Unix(), body))
	if s.tamper != nil {
		body = s.tamper(r.Header, body)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return s.base.RoundTrip(r)
}

func syncClient(env *servertest.Env, rt http.RoundTripper, opts []connect.ClientOption) chatsyncv1connect.SyncServiceClient {
	return chatsyncv1connect.NewSyncServiceClient(&http.Client{Transport: rt}, env.URL, opts...)
}

// oneChatBatch is a small valid batch.
func oneChatBatch(session, batchID string) *chatsyncv1.SyncBatchRequest {
	at := timestamppb.New(time.Now().Add(-time.Minute))
	return &chatsyncv1.SyncBatchRequest{
		SessionId: session, BatchId: batchID, Kind: chatsyncv1.BatchKind_BATCH_KIND_LIVE,
		Chats: []*chatsyncv1.SyncChat{{
			Jid: "6281234567001@s.whatsapp.net", Type: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE, Name: new("Alice"), LastActivityTime: at,
			Contact:  &chatsyncv1.SyncContact{Phone: "+6281234567001", PushName: "Alice"},
			Messages: []*chatsyncv1.SyncMessage{{Id: "3EB0A1", Timestamp: at, Text: "hi"}},
		}},
	}
}

// rowCounts counts what a SyncBatch could have written anywhere.
func rowCounts(t *testing.T, env *servertest.Env) [4]int {
	t.Helper()
	var n [4]int
	err := env.Store.DB().DB.QueryRowContext(t.Context(), `SELECT
		(SELECT count(*) FROM sync_batches), (SELECT count(*) FROM chats),
		(SELECT count(*) FROM contacts), (SELECT count(*) FROM messages)`).Scan(&n[0], &n[1], &n[2], &n[3])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSignatureMatrix runs every way a sidecar signature can be wrong
// against the real server over Connect proto, Connect JSON and gRPC: each is
// refused unauthenticated, writes nothing anywhere, and is logged with its
// reason but never with a secret. Good signatures (the client package's
// Transport) pass.
func TestSignatureMatrix(t *testing.T) {
	var logs syncBuffer
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	_, token := env.Workspace(t, "signed")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	b := createSidecar(t, api, "b", nil)
	rotated := createSidecar(t, api, "rotated", nil)
	rot, err := api.Session.RotateSessionSecret(t.Context(), &chatsyncv1.RotateSessionSecretRequest{SessionId: rotated.id})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{a.secret, b.secret, rotated.secret, rot.GetSidecarSecret()}
	base := env.HTTP.Transport

	// replaceBatchID swaps the batch ID in the raw body for another of the
	// same length: the message still decodes, the signature no longer fits.
	replaceBatchID := func(_ http.Header, body []byte) []byte {
		return bytes.Replace(body, []byte("bad-body-changed"), []byte("bad-body-CHANGED"), 1)
	}
	set := func(k, v string) func(http.Header, []byte) []byte {
		return func(h http.Header, body []byte) []byte {
			if v == "" {
				h.Del(k)
			} else {
				h.Set(k, v)
			}
			return body
		}
	}
	bad := []struct {
		name    string
		batchID string // also names the body's session when body is set
		signer  signer
		body    string // session in the body; empty: the signer's
		reason  string // in the log line or the error
	}{
		{"missing session header", "bad-no-session", signer{session: a.id, secret: a.secret, tamper: set(signing.HeaderSession, "")}, "", "signature headers missing"},
		{"missing timestamp header", "bad-no-timestamp", signer{session: a.id, secret: a.secret, tamper: set(signing.HeaderTimestamp, "")}, "", "signature headers missing"},
		{"missing signature header", "bad-no-signature", signer{session: a.id, secret: a.secret, tamper: set(signing.HeaderSignature, "")}, "", "signature headers missing"},
		{"malformed signature version", "bad-sig-version", signer{session: a.id, secret: a.secret, tamper: set(signing.HeaderSignature, "v2="+strings.Repeat("ab", 32))}, "", "signature header malformed"},
		{"malformed signature hex", "bad-sig-hex", signer{session: a.id, secret: a.secret, tamper: set(signing.HeaderSignature, "v1="+strings.Repeat("zz", 32))}, "", "signature header malformed"},
		{"malformed timestamp", "bad-timestamp", signer{session: a.id, secret: a.secret, tamper: set(signing.HeaderTimestamp, "12ab")}, "", "timestamp malformed"},
		{"malformed session header", "bad-session", signer{session: "not-a-number", secret: a.secret}, a.id, "not a session ID"},
		{"wrong secret", "bad-secret", signer{session: a.id, secret: strings.Repeat("0", 64)}, "", "signature does not match"},
		{"body changed after signing", "bad-body-changed", signer{session: a.id, secret: a.secret, tamper: replaceBatchID}, "", "signature does not match"},
		{"timestamp 301 s old", "bad-old", signer{session: a.id, secret: a.secret, skew: -301 * time.Second}, "", "outside the 300 s window"},
		// 302, not 301: the header has whole seconds, and the server's clock may
		// tick over between signing and checking, shrinking 301 to 300.
		{"timestamp 301+ s ahead", "bad-ahead", signer{session: a.id, secret: a.secret, skew: 302 * time.Second}, "", "outside the 300 s window"},
		{"unknown session", "bad-unknown", signer{session: "999999", secret: a.secret}, "999999", "unknown session"},
		{"body session differs from header", "bad-other-body", signer{session: a.id, secret: a.secret}, b.id, "differs from the X-Chatsync-Session header"},
		{"rotated-away secret", "bad-rotated", signer{session: rotated.id, secret: rotated.secret}, "", "signature does not match"},
	}
	for _, p := range servertest.Protocols {
		t.Run(p.Name, func(t *testing.T) {
			ctx := t.Context()
			good := syncClient(env, &client.Transport{Base: base, SessionID: a.id, Secret: a.secret}, p.Opts)
			if _, err := good.SyncBatch(ctx, oneChatBatch(a.id, "good-"+p.Name)); err != nil {
				t.Fatalf("valid signature: %v", err)
			}
			fresh := syncClient(env, &client.Transport{Base: base, SessionID: rotated.id, Secret: rot.GetSidecarSecret()}, p.Opts)
			if _, err := fresh.SyncBatch(ctx, oneChatBatch(rotated.id, "good-rotated-"+p.Name)); err != nil {
				t.Fatalf("the new secret after rotation: %v", err)
			}
			before := rowCounts(t, env)
			for _, tt := range bad {
				t.Run(tt.name, func(t *testing.T) {
					s := tt.signer
					s.base = base
					body := tt.body
					if body == "" {
						body = s.session
					}
					_, err := syncClient(env, &s, p.Opts).SyncBatch(ctx, oneChatBatch(body, tt.batchID))
					if connect.CodeOf(err) != connect.CodeUnauthenticated {
						t.Fatalf("code = %v (%v), want unauthenticated", connect.CodeOf(err), err)
					}
					if got := rowCounts(t, env); got != before {
						t.Fatalf("rows (batches, chats, contacts, messages) %v after the refusal, were %v", got, before)
					}
					if !strings.Contains(logs.String(), tt.reason) {
						t.Fatalf("no log line names the reason %q", tt.reason)
					}
				})
			}
		})
	}

	// Refusals are logged with their reason; no secret or signature appears
	// in any line.
	refused := 0
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "sidecar signature refused" {
			refused++
			if r, _ := rec["reason"].(string); r == "" {
				t.Errorf("refusal without a reason: %s", line)
			}
		}
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Fatalf("a log line carries a secret: %s", line)
			}
		}
		if regexp.MustCompile(`v1=[0-9a-f]{64}`).MatchString(line) {
			t.Fatalf("a log line carries a signature: %s", line)
		}
	}
	// Every case but the body-session one is refused by the middleware.
	if want := (len(bad) - 1) * len(servertest.Protocols); refused != want {
		t.Fatalf("%d refusal lines, want %d", refused, want)
	}
	if got := rowCounts(t, env); got[0] != 2*len(servertest.Protocols) {
		t.Fatalf("%d batches stored, want only the %d valid calls'", got[0], 2*len(servertest.Protocols))
	}
}

// A sidecar signature authorises SyncService only (elsewhere it is not
// even read: the call has no token); a bearer token of the
// session's workspace works for SyncBatch too, another workspace's does not.
func TestSignatureScope(t *testing.T) {
	env := servertest.New(t, servertest.Options{RedisDB: redisDB})
	_, token := env.Workspace(t, "scope")
	_, otherToken := env.Workspace(t, "other")
	api := env.Clients(token)
	a := createSidecar(t, api, "a", nil)
	hc := &http.Client{Transport: &client.Transport{Base: env.HTTP.Transport, SessionID: a.id, Secret: a.secret}}
	ctx := t.Context()

	_, err := chatsyncv1connect.NewChatServiceClient(hc, env.URL).ListChats(ctx, &chatsyncv1.ListChatsRequest{})
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("signed ListChats: %v", err)
	}
	if _, err := api.Sync.SyncBatch(ctx, oneChatBatch(a.id, "by-token")); err != nil {
		t.Fatalf("SyncBatch with the workspace's token: %v", err)
	}
	_, err = env.Clients(otherToken).Sync.SyncBatch(ctx, oneChatBatch(a.id, "by-other-token"))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("SyncBatch with another workspace's token: %v, want not_found", err)
	}
	if n := rowCounts(t, env)[0]; n != 1 {
		t.Fatalf("%d batches stored, want 1", n)
	}
}

// When the signing session cannot be loaded because the database is down,
// a signed call is answered unavailable (the sidecar retries) rather than
// unauthenticated (which a sidecar takes for a bad secret), and the
// database's error stays in the log, off the wire.
func TestSignatureLookupFailureIsUnavailable(t *testing.T) {
	var logs syncBuffer
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	_, token := env.Workspace(t, "outage")
	a := createSidecar(t, env.Clients(token), "a", nil)
	signed := syncClient(env, &client.Transport{Base: env.HTTP.Transport, SessionID: a.id, Secret: a.secret}, nil)
	if _, err := signed.SyncBatch(t.Context(), oneChatBatch(a.id, "before-outage")); err != nil {
		t.Fatalf("signed call before the outage: %v", err)
	}

	// A real fault of the dependency: the store's connections are closed.
	if err := env.Store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	_, err := signed.SyncBatch(t.Context(), oneChatBatch(a.id, "during-outage"))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("signed call with the database down: %v, want unavailable", err)
	}
	if !strings.Contains(err.Error(), "retry") || strings.Contains(err.Error(), "closed") {
		t.Errorf("error on the wire %q: want the retry hint without the database's error", err)
	}
	if !strings.Contains(logs.String(), "database is closed") {
		t.Errorf("the log does not keep the database's error:\n%s", logs.String())
	}
}

// TestUnknownSessionLooksLikeAWrongSignature: session IDs are sequential,
// so a call signed for a session that does not exist gets exactly the
// answer a wrong signature for an existing one gets, for a fresh and for a
// stale timestamp; only the log tells them apart.
func TestUnknownSessionLooksLikeAWrongSignature(t *testing.T) {
	var logs syncBuffer
	env := servertest.New(t, servertest.Options{RedisDB: redisDB, Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	_, token := env.Workspace(t, "enumerated")
	a := createSidecar(t, env.Clients(token), "a", nil)
	wrong := strings.Repeat("0", 64)
	answer := func(session string, skew time.Duration) string {
		t.Helper()
		s := signer{base: env.HTTP.Transport, session: session, secret: wrong, skew: skew}
		_, err := syncClient(env, &s, nil).SyncBatch(t.Context(), oneChatBatch(session, "probe"))
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("session %s: %v, want unauthenticated", session, err)
		}
		return err.Error()
	}
	for _, skew := range []time.Duration{0, -time.Hour} {
		known, unknown := answer(a.id, skew), answer("999999", skew)
		if known != unknown {
			t.Errorf("skew %v: an existing session is answered %q, a missing one %q", skew, known, unknown)
		}
	}
	if !strings.Contains(logs.String(), "unknown session (answered as: signature does not match)") {
		t.Errorf("the log does not say the session was unknown:\n%s", logs.String())
	}
}
