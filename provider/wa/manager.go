package wa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"

	"github.com/chatsync/chatsync"
)

// managerStore is what the Manager needs of the store.
type managerStore interface {
	DeviceJID(ctx context.Context, id int64) (string, error)
	SetDeviceJID(ctx context.Context, id int64, jid string) error
}

// ManagerParams configure a Manager. Store, Devices, Redis, Sink and Log
// are required.
type ManagerParams struct {
	Store   managerStore
	Devices *sqlstore.Container
	Redis   redis.UniversalClient
	Sink    *Sink
	Log     *slog.Logger
	// LeaseTTL is the TTL of the lease a pairing holds (default 30 s,
	// renewed while pairing runs).
	LeaseTTL time.Duration
	// CallTimeout bounds waiting for the process that runs a session
	// (default 30 s).
	CallTimeout time.Duration
	// Transport reaches WhatsApp; WhatsApp{} when nil.
	Transport Transport
}

// Manager is what the server side does with whatsmeow sessions: it pairs a
// session itself, in the process serving the PairSession stream, and
// reaches the process that runs a paired session (a worker's Supervisor)
// through Redis to send, ask for history or log out.
type Manager struct {
	p ManagerParams
}

// NewManager returns a manager.
func NewManager(p ManagerParams) (*Manager, error) {
	if p.Store == nil || p.Devices == nil || p.Redis == nil || p.Sink == nil || p.Log == nil {
		return nil, errors.New("wa: manager needs Store, Devices, Redis, Sink and Log")
	}
	if p.LeaseTTL <= 0 {
		p.LeaseTTL = 30 * time.Second
	}
	if p.CallTimeout <= 0 {
		p.CallTimeout = 30 * time.Second
	}
	if p.Transport == nil {
		p.Transport = WhatsApp{}
	}
	return &Manager{p: p}, nil
}

// Pair links a session to a phone (see Session.Pair for the steps emit
// gets). It holds the session's lease while it runs, so no worker connects
// the half-made device; once paired it records the device on the session,
// disconnects, releases the lease and wakes the supervisors, one of which
// connects the session for good (and receives the history WhatsApp sends
// after pairing, which the phone keeps until a client acknowledges it).
// ErrAlreadyPaired when the session has a device; ErrLeaseHeld while
// another process pairs or runs it.
func (m *Manager) Pair(ctx context.Context, sess chatsync.Session, phone string, emit func(PairStep) error) error {
	if jid, err := m.p.Store.DeviceJID(ctx, sess.ID); err != nil {
		return err
	} else if jid != "" {
		return ErrAlreadyPaired
	}
	leases := NewLeases(m.p.Redis, NewOwnerID("pair"), m.p.LeaseTTL)
	ok, err := leases.Acquire(ctx, sess.ID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrLeaseHeld
	}
	log := m.p.Log.With(slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID))
	var paired *PairStep
	// Deferred first, so it runs after the lease is released: a woken
	// supervisor must find the lease free.
	defer func() {
		if paired == nil {
			return
		}
		log.InfoContext(ctx, "session paired; handing it to a worker")
		if err := Wake(context.WithoutCancel(ctx), m.p.Redis); err != nil {
			log.WarnContext(ctx, "wake supervisors; they find the session at their next poll", slog.String("error", err.Error()))
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewDone := make(chan struct{})
	go func() {
		defer close(renewDone)
		leases.keep(ctx, sess.ID, log, cancel)
	}()
	defer func() {
		cancel()
		<-renewDone
		if err := leases.Release(context.WithoutCancel(ctx), sess.ID); err != nil {
			log.WarnContext(ctx, "release pairing lease", slog.String("error", err.Error()))
		}
	}()

	dev := m.p.Devices.NewDevice()
	cli := whatsmeow.NewClient(dev, Logger(log))
	s, err := NewSession(SessionParams{
		ID: sess.ID, Client: cli, Batches: m.p.Sink, Status: m.p.Sink, History: m.p.Sink, Logger: log,
		SyncConfig: sess.SyncConfig, Transport: m.p.Transport,
	})
	if err != nil {
		return err
	}
	detach := s.Attach(ctx)
	defer detach()
	err = s.Pair(ctx, phone, func(step PairStep) error {
		if step.Kind == PairSuccess {
			paired = &step
			// Record the device before the stream hears of it: a client
			// that sees success finds the session paired.
			if err := m.linked(context.WithoutCancel(ctx), sess.ID, cli, step); err != nil {
				// Unlinked keys would be an orphan no session can use:
				// drop them, so pairing again starts clean.
				if cli.Store.ID != nil {
					_ = cli.Store.Delete(context.WithoutCancel(ctx))
				}
				return err
			}
		}
		return emit(step)
	})
	cli.Disconnect()
	return err
}

// linked records a freshly paired device on its session.
func (m *Manager) linked(ctx context.Context, sessionID int64, cli *whatsmeow.Client, step PairStep) error {
	if cli.Store.ID == nil {
		return errors.New("pairing reported success without a device ID")
	}
	if err := m.p.Store.SetDeviceJID(ctx, sessionID, cli.Store.ID.String()); err != nil {
		return fmt.Errorf("record paired device: %w", err)
	}
	return m.p.Sink.SetPaired(ctx, sessionID, chatsync.SessionDisconnected, "paired; a worker connects it next", step.JID, step.PushName)
}

// Call errors the server maps: the session is not running anywhere, or its
// process is not connected to WhatsApp.
var (
	// ErrOffline: the process running the session is not connected to
	// WhatsApp right now.
	ErrOffline = fmt.Errorf("the session is not connected to WhatsApp right now: %w", chatsync.ErrProviderUnavailable)
)

// call sends a request to the session's process and turns its answer into
// an error: ErrNoOwner or ErrOffline when the session cannot be reached,
// ErrNoAnswer on timeout, else what WhatsApp said.
func (m *Manager) call(ctx context.Context, req Request) (Response, error) {
	resp, err := Call(ctx, m.p.Redis, req, m.p.CallTimeout)
	if err != nil {
		return resp, err
	}
	switch {
	case resp.Offline:
		return resp, ErrOffline
	case resp.Error != "":
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// Send sends a text through the process running the session and returns
// the WhatsApp message ID.
func (m *Manager) Send(ctx context.Context, sessionID int64, chatJID, text string) (string, error) {
	resp, err := m.call(ctx, Request{SessionID: sessionID, Kind: RequestSend, ChatJID: chatJID, Text: text})
	if err != nil {
		return "", err
	}
	return resp.MessageID, nil
}

// RequestHistory asks the phone, through the process running the session,
// for the history before each anchor.
func (m *Manager) RequestHistory(ctx context.Context, sessionID int64, anchors []Anchor, count int) error {
	_, err := m.call(ctx, Request{SessionID: sessionID, Kind: RequestHistory, Anchors: anchors, Count: count})
	return err
}

// Remove unlinks a session's device before the session is deleted: the
// process running it logs it out of WhatsApp (the phone drops the linked
// device), and the device's keys leave the device store. loggedOut reports
// whether WhatsApp was told; when no process runs the session, or it is not
// connected, only the local keys go (the phone shows the device until it
// expires or is removed there).
func (m *Manager) Remove(ctx context.Context, sessionID int64) (loggedOut bool, err error) {
	jid, err := m.p.Store.DeviceJID(ctx, sessionID)
	if err != nil || jid == "" {
		return false, err
	}
	_, err = m.call(ctx, Request{SessionID: sessionID, Kind: RequestLogout})
	switch {
	case err == nil:
		loggedOut = true
	case errors.Is(err, ErrNoOwner), errors.Is(err, ErrOffline), errors.Is(err, ErrNoAnswer):
		m.p.Log.InfoContext(ctx, "session not connected; removing its device keys without logging out",
			slog.Int64("session_id", sessionID), slog.String("error", err.Error()))
	default:
		m.p.Log.WarnContext(ctx, "log out failed; removing the device keys anyway",
			slog.Int64("session_id", sessionID), slog.String("error", err.Error()))
	}
	if err := m.deleteDevice(ctx, jid); err != nil {
		return loggedOut, err
	}
	if err := m.p.Store.SetDeviceJID(ctx, sessionID, ""); err != nil {
		return loggedOut, err
	}
	if err := Wake(ctx, m.p.Redis); err != nil {
		m.p.Log.WarnContext(ctx, "wake supervisors", slog.String("error", err.Error()))
	}
	return loggedOut, nil
}

func (m *Manager) deleteDevice(ctx context.Context, deviceJID string) error {
	jid, err := types.ParseJID(deviceJID)
	if err != nil {
		return fmt.Errorf("device JID %q: %w", deviceJID, err)
	}
	dev, err := m.p.Devices.GetDevice(ctx, jid)
	if err != nil {
		return fmt.Errorf("load device %s: %w", jid, err)
	}
	if dev == nil {
		return nil // logging out deleted it
	}
	if err := m.p.Devices.DeleteDevice(ctx, dev); err != nil {
		return fmt.Errorf("delete device %s: %w", jid, err)
	}
	return nil
}
