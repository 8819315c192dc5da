package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/events"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/gen/chatsync/v1/chatsyncv1connect"
	"github.com/chatsync/chatsync/store"
)

// sessionStore is what SessionService needs of the store.
type sessionStore interface {
	CreateSession(ctx context.Context, ns store.NewSession) (chatsync.Session, error)
	Session(ctx context.Context, workspaceID, id int64) (chatsync.Session, error)
	Sessions(ctx context.Context, workspaceID, afterID int64, limit int) ([]chatsync.Session, error)
	UpdateSession(ctx context.Context, workspaceID, id int64, u store.SessionUpdate) (chatsync.Session, error)
	DeleteSession(ctx context.Context, workspaceID, id int64) error
	SetSecretNonce(ctx context.Context, workspaceID, id int64, nonce []byte) error
	PendingBatchCount(ctx context.Context, sessionID int64) (int64, error)
	SessionBatchFigures(ctx context.Context, sessionID int64, since time.Time) (store.BatchFigures, error)
	WaitingMessages(ctx context.Context, sessionID int64) (int64, error)
	HistoryFigures(ctx context.Context, sessionID int64) (store.HistoryFigures, error)
	SidecarHealth(ctx context.Context, sessionID int64) (store.SidecarHealth, error)
	HistoryAnchors(ctx context.Context, sessionID int64, chatJID string, limit int) ([]store.HistoryAnchor, error)
}

// whatsmeowSessions is what SessionService does with whatsmeow sessions
// (wa.Manager): pair one here, reach the process running one.
type whatsmeowSessions interface {
	Pair(ctx context.Context, sess chatsync.Session, phone string, emit func(chatsync.PairStep) error) error
	RequestHistory(ctx context.Context, sessionID int64, anchors []chatsync.Anchor, count int) error
	Remove(ctx context.Context, sessionID int64) (loggedOut bool, err error)
}

type sessionServer struct {
	store    sessionStore
	keys     Keys
	log      *slog.Logger
	wa       whatsmeowSessions // nil when whatsmeow is off
	wake     func(context.Context) error
	sidecars Sidecars // nil: no command channel on this server
	now      func() time.Time
}

var _ chatsyncv1connect.SessionServiceHandler = (*sessionServer)(nil)

func (s *sessionServer) CreateSession(ctx context.Context, req *chatsyncv1.CreateSessionRequest) (*chatsyncv1.CreateSessionResponse, error) {
	p := mustPrincipal(ctx)
	provider := providerFromProto(req.GetProvider())
	ns := store.NewSession{
		WorkspaceID: p.workspaceID, DisplayName: req.GetDisplayName(), Provider: provider,
		SyncConfig: syncConfigFromProto(req.GetSyncConfig()), Backup: req.GetBackup(), SecretNonce: NewNonce(),
	}
	mc := req.GetMetaCloud()
	switch {
	case provider == chatsync.ProviderMetaCloud && mc == nil:
		return nil, invalidArgument("meta_cloud: required for PROVIDER_META_CLOUD")
	case provider != chatsync.ProviderMetaCloud && mc != nil:
		return nil, invalidArgument("meta_cloud: only for PROVIDER_META_CLOUD")
	case mc != nil:
		ns.MetaPhoneNumberID = mc.GetPhoneNumberId()
		ns.MetaTokenSealed = s.keys.Seal([]byte(mc.GetAccessToken()))
	}
	sess, err := s.store.CreateSession(ctx, ns)
	if err != nil {
		return nil, toConnect(err)
	}
	s.log.InfoContext(ctx, "session created", slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID), slog.String("provider", string(sess.Provider)))
	return &chatsyncv1.CreateSessionResponse{Session: sessionToProto(sess), SidecarSecret: s.keys.SidecarSecret(sess.ID, ns.SecretNonce)}, nil
}

func (s *sessionServer) session(ctx context.Context, raw string) (chatsync.Session, error) {
	p := mustPrincipal(ctx)
	id, err := parseID("session_id", raw)
	if err != nil {
		return chatsync.Session{}, err
	}
	sess, err := s.store.Session(ctx, p.workspaceID, id)
	if errors.Is(err, store.ErrNotFound) {
		return sess, notFound("session")
	}
	if err != nil {
		return sess, toConnect(err)
	}
	return sess, nil
}

func (s *sessionServer) GetSession(ctx context.Context, req *chatsyncv1.GetSessionRequest) (*chatsyncv1.GetSessionResponse, error) {
	sess, err := s.session(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	return &chatsyncv1.GetSessionResponse{Session: sessionToProto(sess)}, nil
}

func (s *sessionServer) ListSessions(ctx context.Context, req *chatsyncv1.ListSessionsRequest) (*chatsyncv1.ListSessionsResponse, error) {
	p := mustPrincipal(ctx)
	filters := "sessions|" + idString(p.workspaceID)
	var after int64
	if tok := req.GetPageToken(); tok != "" {
		c, err := s.keys.decodePageToken(tok, filters)
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, err)
		}
		after = c.id
	}
	size := pageSize(req.GetPageSize())
	list, err := s.store.Sessions(ctx, p.workspaceID, after, size+1)
	if err != nil {
		return nil, toConnect(err)
	}
	res := &chatsyncv1.ListSessionsResponse{}
	if len(list) > size {
		list = list[:size]
		last := list[size-1]
		res.NextPageToken = s.keys.encodePageToken(cursor{at: last.CreatedAt, id: last.ID}, filters)
	}
	for _, sess := range list {
		res.Sessions = append(res.Sessions, sessionToProto(sess))
	}
	return res, nil
}

func (s *sessionServer) UpdateSession(ctx context.Context, req *chatsyncv1.UpdateSessionRequest) (*chatsyncv1.UpdateSessionResponse, error) {
	sess, err := s.session(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	var u store.SessionUpdate
	if req.DisplayName != nil {
		u.DisplayName = req.DisplayName
	}
	if req.GetSyncConfig() != nil {
		c := syncConfigFromProto(req.GetSyncConfig())
		u.SyncConfig = &c
	}
	u.Backup = req.Backup
	if mc := req.GetMetaCloud(); mc != nil {
		if sess.Provider != chatsync.ProviderMetaCloud {
			return nil, invalidArgument("meta_cloud: only for PROVIDER_META_CLOUD")
		}
		id := mc.GetPhoneNumberId()
		u.MetaPhoneNumberID = &id
		u.MetaTokenSealed = s.keys.Seal([]byte(mc.GetAccessToken()))
	}
	updated, err := s.store.UpdateSession(ctx, sess.WorkspaceID, sess.ID, u)
	if err != nil {
		return nil, toConnect(err)
	}
	if u.SyncConfig != nil && sess.Provider == chatsync.ProviderWhatsmeow && s.wake != nil {
		// The worker running the session applies the new limits at its
		// next look at the store; this makes that now.
		if err := s.wake(ctx); err != nil {
			s.log.WarnContext(ctx, "wake supervisors", slog.Int64("session_id", sess.ID), slog.String("error", err.Error()))
		}
	}
	return &chatsyncv1.UpdateSessionResponse{Session: sessionToProto(updated)}, nil
}

// DeleteSession refuses while batches are queued or processing; else it
// logs a whatsmeow session out of WhatsApp (through the process running
// it, when one does and is connected), removes its device keys from the
// device store, and deletes the session, whose chats, messages, batches and
// commands go by cascade.
func (s *sessionServer) DeleteSession(ctx context.Context, req *chatsyncv1.DeleteSessionRequest) (*chatsyncv1.DeleteSessionResponse, error) {
	sess, err := s.session(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	busy := connect.NewError(connect.CodeFailedPrecondition, errors.New("the session has sync batches queued or processing; delete it once they finished"))
	// Checked before logging out, which cannot be undone; the store checks
	// again in the deleting transaction.
	if n, err := s.store.PendingBatchCount(ctx, sess.ID); err != nil {
		return nil, toConnect(err)
	} else if n > 0 {
		return nil, busy
	}
	loggedOut := false
	if sess.Provider == chatsync.ProviderWhatsmeow && s.wa != nil {
		if loggedOut, err = s.wa.Remove(ctx, sess.ID); err != nil {
			return nil, toConnect(err)
		}
	}
	if err := s.store.DeleteSession(ctx, sess.WorkspaceID, sess.ID); err != nil {
		if errors.Is(err, store.ErrBusy) {
			return nil, busy
		}
		return nil, toConnect(err)
	}
	s.log.InfoContext(ctx, "session deleted", slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID), slog.Bool("logged_out", loggedOut))
	return &chatsyncv1.DeleteSessionResponse{}, nil
}

func (s *sessionServer) RotateSessionSecret(ctx context.Context, req *chatsyncv1.RotateSessionSecretRequest) (*chatsyncv1.RotateSessionSecretResponse, error) {
	sess, err := s.session(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	nonce := NewNonce()
	if err := s.store.SetSecretNonce(ctx, sess.WorkspaceID, sess.ID, nonce); err != nil {
		return nil, toConnect(err)
	}
	s.log.InfoContext(ctx, "sidecar secret rotated", slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID))
	return &chatsyncv1.RotateSessionSecretResponse{SidecarSecret: s.keys.SidecarSecret(sess.ID, nonce)}, nil
}

// sessionServices are the handlers of the sessions work, sharing one
// sidecar command channel.
type sessionServices struct {
	sessions *sessionServer
	commands *commandServer
	send     *sendServer
}

func newSessionServices(p Params) sessionServices {
	pub := eventPublisher(p.Publisher)
	if p.Publisher == nil {
		pub = events.NewPublisher(p.Redis, events.DefaultRetention)
	}
	timeout := p.SendTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	out := sessionServices{
		sessions: &sessionServer{store: p.Store, keys: p.Keys, log: p.Log, now: time.Now},
		commands: &commandServer{store: p.Store},
		send: &sendServer{
			store: p.Store, senders: map[chatsync.Provider]chatsync.Sender{}, pub: pub, log: p.Log, now: time.Now,
		},
	}
	// Nil pointers must stay nil interfaces.
	out.sessions.wake = p.WakeSessions
	if p.WhatsApp != nil {
		out.sessions.wa = p.WhatsApp
		out.send.senders[chatsync.ProviderWhatsmeow] = whatsmeowSend{wa: p.WhatsApp, timeout: timeout}
	}
	if p.Sidecars != nil {
		out.sessions.sidecars = p.Sidecars
		out.commands.channel = p.Sidecars
		out.send.senders[chatsync.ProviderWebJS] = p.Sidecars
	}
	if p.Meta != nil {
		out.send.senders[chatsync.ProviderMetaCloud] = p.Meta
	}
	return out
}

// registerHealthMetrics adds the GetSessionHealth figures to the registry
// (once: a second Handler on the same registry keeps the first's).
func registerHealthMetrics(p Params) {
	c := &healthCollector{
		store: p.Store, queues: asynq.NewInspectorFromRedisClient(p.Redis), log: p.Log, now: time.Now, timeout: 5 * time.Second,
	}
	if err := p.Registry.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			p.Log.Warn("register health metrics", slog.String("error", err.Error()))
		}
	}
}
