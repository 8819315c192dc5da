package wa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// batchSink takes a batch durably: when SubmitBatch returns nil the batch is
// in sync_batches, and a batch ID seen before is a no-op.
type batchSink interface {
	SubmitBatch(ctx context.Context, sessionID int64, kind chatsync.BatchKind, batchID string, p chatsync.BatchPayload) error
}

// statusSink records a session's connection state (and publishes it).
type statusSink interface {
	SetStatus(ctx context.Context, sessionID int64, st chatsync.SessionStatus, reason string, banExpire time.Time) error
}

// groupFetcher asks WhatsApp for a group's metadata (*whatsmeow.Client).
type groupFetcher interface {
	GetGroupInfo(ctx context.Context, jid types.JID) (*types.GroupInfo, error)
}

// lidStore is whatsmeow's local LID↔phone table (store.LIDStore).
type lidStore interface {
	GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error)
	GetLIDForPN(ctx context.Context, pn types.JID) (types.JID, error)
}

// groupFetchTimeout bounds the one metadata request made for a group the
// session has not described to chatsync yet.
const groupFetchTimeout = 10 * time.Second

// SessionParams are what a Session needs. Client, Batches, Status,
// History and Logger are required.
type SessionParams struct {
	ID      int64
	Client  *whatsmeow.Client
	Batches batchSink
	Status  statusSink
	// History keeps history-sync notifications from before WhatsApp's ack
	// until their batches are accepted (the Sink).
	History historyQueue
	Logger  *slog.Logger
	// Metrics counts what history leaves out; nil records nothing.
	Metrics *Metrics
	// SyncConfig limits history: max_chats across all history blobs of this
	// run, sync_window_days per chat and message.
	SyncConfig chatsync.SyncConfig
	// HistoryBatchSize is the number of chats per history batch;
	// DefaultHistoryBatchSize when 0.
	HistoryBatchSize int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Transport reaches WhatsApp; WhatsApp{} when nil.
	Transport Transport
}

// Session runs one whatsmeow client for one chatsync session: its event
// handler turns WhatsApp events into batches and status changes.
type Session struct {
	id      int64
	client  *whatsmeow.Client
	batches batchSink
	status  statusSink
	history historyQueue
	metrics *Metrics
	groups  groupFetcher
	// lids overrides the device's LID table in tests; nil means the
	// client's, read when needed since an unpaired device gets one only
	// when pairing completes.
	lids      lidStore
	log       *slog.Logger
	now       func() time.Time
	batchSize int
	// connect and pairPhone are the client's network calls, replaced in
	// tests since WhatsApp's servers cannot be reached from them.
	connect   func() error
	pairPhone func(ctx context.Context, phone string) (string, error)
	// historyRetry is the wait before each further attempt at submitting a
	// history batch within one processing of a blob.
	historyRetry []time.Duration
	// download fetches a stored notification's blob (whatsmeow's
	// DownloadHistorySync).
	download func(context.Context, *waE2E.HistorySyncNotification) (*waHistorySync.HistorySync, error)
	// historyKick wakes the history processor; historyBackoff bounds its
	// wait after a failure (first, last).
	historyKick    chan struct{}
	historyBackoff [2]time.Duration

	mu  sync.Mutex
	cfg chatsync.SyncConfig
	// historyChats holds the chats history admitted so far, so max_chats
	// holds across the many blobs of one sync.
	historyChats map[string]bool
	// describedGroups holds the groups whose participants were sent.
	describedGroups map[string]bool
}

// NewSession builds a Session around a client. It turns on whatsmeow's
// SynchronousAck, so a message is acknowledged only after its batch is
// durable.
func NewSession(p SessionParams) (*Session, error) {
	switch {
	case p.Client == nil:
		return nil, errors.New("new session: nil whatsmeow client")
	case p.Batches == nil || p.Status == nil || p.History == nil:
		return nil, errors.New("new session: batch, status and history sinks are required")
	case p.Logger == nil:
		return nil, errors.New("new session: nil logger")
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Transport == nil {
		p.Transport = WhatsApp{}
	}
	cli := p.Client
	cli.SynchronousAck = true
	// History blobs are downloaded from a stored copy of their
	// notification, not by whatsmeow on its own (see durable.go).
	cli.ManualHistorySyncDownload = true
	// The full app-state sync after pairing emits the same events as live
	// changes (archived, pinned, muted, read; contacts and push names),
	// so a new session's chat list starts as the phone shows it.
	cli.EmitAppStateEventsOnFullSync = true
	tr := p.Transport
	s := &Session{
		id:        p.ID,
		client:    cli,
		batches:   p.Batches,
		status:    p.Status,
		history:   p.History,
		metrics:   p.Metrics,
		groups:    cli,
		log:       p.Logger.With(slog.Int64("session_id", p.ID)),
		now:       p.Now,
		batchSize: p.HistoryBatchSize,
		connect:   func() error { return tr.Connect(cli) },
		pairPhone: func(ctx context.Context, phone string) (string, error) {
			return tr.PairPhone(ctx, cli, phone)
		},
		historyRetry:    []time.Duration{time.Second, 5 * time.Second},
		download:        downloadHistory(cli),
		historyKick:     make(chan struct{}, 1),
		historyBackoff:  [2]time.Duration{time.Second, 5 * time.Minute},
		cfg:             p.SyncConfig,
		historyChats:    make(map[string]bool),
		describedGroups: make(map[string]bool),
	}
	return s, nil
}

// SetSyncConfig changes the history limits for blobs that arrive from now
// on.
func (s *Session) SetSyncConfig(cfg chatsync.SyncConfig) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
}

// Run registers the event handler, processes the history notifications
// stored and not yet processed (and those that arrive), connects when the
// device is paired, and blocks until ctx is done; then it disconnects and
// waits for the history processor. An unpaired session stays
// unconnected until Pair is called, which must happen while Run runs so the
// history WhatsApp sends right after pairing is not missed. Reconnecting
// after a failure is the caller's (and whatsmeow's auto-reconnect's) job.
func (s *Session) Run(ctx context.Context) error {
	defer s.Attach(ctx)()
	hctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.runHistory(hctx) }()
	defer func() { stop(); <-done }()
	if s.client.Store.ID != nil {
		if err := s.connect(); err != nil {
			return fmt.Errorf("connect session %d: %w", s.id, err)
		}
	}
	<-ctx.Done()
	s.client.Disconnect()
	return nil
}

// Attach registers the event handler, with ctx as the context of
// everything it does (whatsmeow callbacks carry none), and returns the
// function that removes it. Run attaches by itself; a caller pairing
// without Run attaches first, so nothing WhatsApp sends is missed.
func (s *Session) Attach(ctx context.Context) (detach func()) {
	id := s.client.AddEventHandlerWithSuccessStatus(func(evt any) bool { return s.handleEvent(ctx, evt) })
	return func() { s.client.RemoveEventHandler(id) }
}

// Pair links the session's device with a phone. It connects, then emits QR
// codes as whatsmeow rotates them, or, when phone is set, one phone pairing
// code, and ends with a PairSuccess or PairFailure step (a failure is not an
// error). When ctx is done it disconnects and returns ctx's error; an emit
// error ends pairing the same way.
func (s *Session) Pair(ctx context.Context, phone string, emit func(PairStep) error) error {
	if s.client.Store.ID != nil {
		return ErrAlreadyPaired
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items, err := s.client.GetQRChannel(ctx)
	if err != nil {
		return fmt.Errorf("pair session %d: %w", s.id, err)
	}
	s.setStatus(ctx, chatsync.SessionPairing, "", time.Time{})
	// After a successful pairing WhatsApp ends the stream (515) and
	// whatsmeow would log in again on this client by itself. The pairing
	// client is only for pairing: the Manager disconnects it and a
	// supervisor connects the session for good, and must be the one that
	// receives the history the phone sends next; a second login racing it
	// could take that history and be disconnected mid-way.
	s.client.DisableLoginAutoReconnect = true
	if err := s.connectToPair(); err != nil {
		s.setStatus(context.WithoutCancel(ctx), chatsync.SessionPending, "could not connect to WhatsApp", time.Time{})
		return fmt.Errorf("pair session %d: connect: %w", s.id, err)
	}
	codeSent := false
	for step := range PairSteps(ctx, items, s.now, s.pairedDevice) {
		if step.Kind == PairQR && phone != "" {
			// A phone code can be asked for once the first QR code shows
			// that the server is ready; later QR codes are not needed.
			if codeSent {
				continue
			}
			code, err := s.pairPhone(ctx, phone)
			if err != nil {
				step = failure("the phone number was refused: " + err.Error())
			} else {
				step, codeSent = PairStep{Kind: PairPhoneCode, Code: code}, true
			}
		}
		if err := emit(step); err != nil {
			if step.Kind != PairSuccess || s.client.Store.ID == nil {
				s.endPairing(ctx, "pairing stream closed")
			} // else the device is linked all the same
			return fmt.Errorf("pair session %d: emit %s: %w", s.id, step.Kind, err)
		}
		switch step.Kind {
		case PairSuccess:
			s.log.InfoContext(ctx, "session paired")
			return nil // the caller disconnects; a supervisor logs in (see above)
		case PairFailure:
			s.endPairing(ctx, step.Reason)
			return nil
		}
	}
	s.endPairing(ctx, "pairing cancelled")
	return ctx.Err()
}

func (s *Session) endPairing(ctx context.Context, reason string) {
	s.client.Disconnect()
	s.setStatus(context.WithoutCancel(ctx), chatsync.SessionPending, reason, time.Time{})
}

// pairedDevice reads the linked account from the device store, where
// whatsmeow put it before reporting success.
func (s *Session) pairedDevice() (jid, pushName string) {
	if s.client.Store.ID == nil {
		return "", ""
	}
	return bareJID(*s.client.Store.ID), s.client.Store.PushName
}

// handleEvent is the whatsmeow event handler. It only translates and hands
// batches to the durable sink; the worker does the rest. It returns false
// when a message or group notification could not be made durable, so
// whatsmeow sends no receipt and WhatsApp delivers it again.
func (s *Session) handleEvent(ctx context.Context, evt any) bool {
	switch e := evt.(type) {
	case *events.Message:
		return s.onMessage(ctx, e)
	case *events.UndecryptableMessage:
		// A placeholder, under a batch ID of its own: the message's own
		// batch ("wa:msg:") comes when the retry brings the content.
		p, err := UndecryptableBatch(e, s.now())
		return s.submitEvent(ctx, chatsync.BatchLive, "wa:undec:", p, err, e.Info.Chat.String(), e.Info.ID)
	case *events.HistorySync:
		// whatsmeow dispatches none with ManualHistorySyncDownload; a
		// blob handed in directly is submitted all the same.
		if err := s.onHistorySync(ctx, e); err != nil {
			s.log.ErrorContext(ctx, "history sync", slog.String("error", err.Error()))
		}
	case *events.GroupInfo:
		s.forgetGroup(e.JID)
		p, err := GroupInfoBatch(e, s.now())
		if err == nil {
			s.addChangePhones(ctx, &p)
		}
		return s.submitEvent(ctx, chatsync.BatchLive, "wa:grp:", p, err, e.JID.String(), e.Timestamp.String())
	case *events.JoinedGroup:
		p, err := JoinedGroupBatch(e, s.now())
		if !s.submitEvent(ctx, chatsync.BatchLive, "wa:join:", p, err, e.ParticipantVersionID) {
			return false
		}
		if err == nil {
			s.markGroup(e.JID)
		}
	case *events.Contact:
		kind := chatsync.BatchLive
		if e.FromFullSync {
			kind = chatsync.BatchHistory // a full app state sync is a backfill
		}
		p, err := ContactBatch(e)
		s.submitEvent(ctx, kind, "wa:ct:", p, err, e.Timestamp.String())
	case *events.Archive:
		s.onAppState(ctx, e, e.Timestamp)
	case *events.Pin:
		s.onAppState(ctx, e, e.Timestamp)
	case *events.Mute:
		s.onAppState(ctx, e, e.Timestamp)
	case *events.MarkChatAsRead:
		s.onAppState(ctx, e, e.Timestamp)
	case *events.Receipt:
		p, err := ReceiptBatch(e)
		return s.submitEvent(ctx, chatsync.BatchLive, "wa:rc:", p, err, string(e.Type), e.Timestamp.String())
	case *events.PushName:
		p, err := PushNameBatch(e)
		var msgID string
		if e.Message != nil {
			msgID = e.Message.ID
		}
		s.submitEvent(ctx, chatsync.BatchLive, "wa:pn:", p, err, msgID)
	case *events.Connected:
		s.setStatus(ctx, chatsync.SessionConnected, "", time.Time{})
		s.kickHistory() // a download that failed offline can go now
	case *events.Disconnected:
		s.setStatus(ctx, chatsync.SessionDisconnected, "connection closed", time.Time{})
	case *events.LoggedOut:
		s.setStatus(ctx, chatsync.SessionLoggedOut, loggedOutReason(e), time.Time{})
	case *events.TemporaryBan:
		var until time.Time
		if e.Expire > 0 {
			until = s.now().Add(e.Expire)
		}
		s.setStatus(ctx, chatsync.SessionBanned, e.Code.String(), until)
	case *events.StreamReplaced:
		s.setStatus(ctx, chatsync.SessionStreamReplaced, "another client connected with this device", time.Time{})
	case *events.ConnectFailure:
		s.setStatus(ctx, chatsync.SessionDisconnected, "connect failure: "+e.Reason.String(), time.Time{})
	case *events.ClientOutdated:
		s.setStatus(ctx, chatsync.SessionDisconnected, "WhatsApp rejected this client as outdated", time.Time{})
	case *events.CATRefreshError:
		s.setStatus(ctx, chatsync.SessionDisconnected, "crypto auth token refresh failed", time.Time{})
	}
	return true
}

// onAppState submits an app-state change. Its time goes into the batch
// ID: archive, unarchive and archive again are three batches, not one
// and a duplicate.
func (s *Session) onAppState(ctx context.Context, evt any, at time.Time) {
	p, kind, err := AppStateBatch(evt)
	s.submitEvent(ctx, kind, "wa:as:", p, err, fmt.Sprintf("%T", evt), at.UTC().Format(time.RFC3339Nano))
}

func loggedOutReason(e *events.LoggedOut) string {
	if e.OnConnect {
		return e.Reason.String()
	}
	return "logged out from the phone"
}

// onMessage submits one live message. A group's participants go with the
// first message of that group the session sees.
func (s *Session) onMessage(ctx context.Context, e *events.Message) bool {
	if n := e.Message.GetProtocolMessage().GetHistorySyncNotification(); n != nil {
		if !e.Info.IsFromMe {
			return true // only my own phone sends history; whatsmeow ignores others too
		}
		return s.onHistoryNotification(ctx, e.Info, n)
	}
	var group *types.GroupInfo
	if e.Info.Chat.Server == types.GroupServer && !s.groupDescribed(e.Info.Chat) {
		group = s.fetchGroup(ctx, e.Info.Chat)
	}
	p, err := MessageBatch(s.withAlts(ctx, e), group, s.now())
	if errors.Is(err, ErrNothingToSync) {
		return true
	}
	if err != nil {
		// Retrying would not make it valid; acknowledge and move on.
		s.log.WarnContext(ctx, "message not synced", slog.String("chat_jid", e.Info.Chat.String()), slog.String("error", err.Error()))
		return true
	}
	batchID := messageBatchID(e.Info)
	if err := s.batches.SubmitBatch(ctx, s.id, chatsync.BatchLive, batchID, p); err != nil {
		s.log.ErrorContext(ctx, "submit message batch", slog.String("batch_id", batchID),
			slog.String("chat_jid", e.Info.Chat.String()), slog.String("error", err.Error()))
		return false
	}
	if group != nil {
		s.markGroup(e.Info.Chat)
	}
	return true
}

// withAlts fills the alternate JIDs a message lacks from whatsmeow's local
// LID↔phone table, on a copy of the event.
func (s *Session) withAlts(ctx context.Context, e *events.Message) *events.Message {
	if s.lidTable() == nil {
		return e
	}
	c := *e
	info := &c.Info
	switch {
	case info.IsGroup:
		if info.SenderAlt.IsEmpty() && !info.IsFromMe {
			info.SenderAlt = s.altJID(ctx, info.Sender)
		}
	case info.IsFromMe:
		if info.RecipientAlt.IsEmpty() {
			info.RecipientAlt = s.altJID(ctx, info.Chat)
		}
	default:
		if info.SenderAlt.IsEmpty() {
			info.SenderAlt = s.altJID(ctx, info.Chat)
		}
	}
	return &c
}

func (s *Session) lidTable() lidStore {
	if s.lids != nil {
		return s.lids
	}
	if st := s.client.Store; st != nil && st.LIDs != nil {
		return st.LIDs
	}
	return nil
}

// altJID looks up the other JID of a user; the empty JID when unknown.
func (s *Session) altJID(ctx context.Context, j types.JID) types.JID {
	lids := s.lidTable()
	if lids == nil {
		return types.JID{}
	}
	var (
		alt types.JID
		err error
	)
	switch j.Server {
	case types.HiddenUserServer:
		alt, err = lids.GetPNForLID(ctx, j.ToNonAD())
	case types.DefaultUserServer:
		alt, err = lids.GetLIDForPN(ctx, j.ToNonAD())
	}
	if err != nil {
		s.log.DebugContext(ctx, "lid lookup", slog.String("error", err.Error()))
		return types.JID{}
	}
	return alt
}

// addChangePhones gives membership changes of LID members their phone number
// when whatsmeow's table knows it (the group notification stored the pairs),
// and carries each pair as a contact.
func (s *Session) addChangePhones(ctx context.Context, p *chatsync.BatchPayload) {
	if s.lidTable() == nil {
		return
	}
	for i := range p.Chats {
		g := p.Chats[i].Group
		if g == nil {
			continue
		}
		for j := range g.Changes {
			c := &g.Changes[j]
			if !isLID(c.JID) || c.Phone != "" {
				continue
			}
			lid, err := types.ParseJID(c.JID)
			if err != nil {
				continue
			}
			pn := bareJID(s.altJID(ctx, lid))
			if !isPhone(pn) {
				continue
			}
			c.Phone = phoneOf(pn)
			p.Contacts = append(p.Contacts, chatsync.ContactInput{JID: pn, AltJID: c.JID, Phone: c.Phone})
		}
	}
}

func (s *Session) groupDescribed(jid types.JID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.describedGroups[jid.String()]
}

func (s *Session) markGroup(jid types.JID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.describedGroups[jid.String()] = true
}

// forgetGroup makes the next message of a group carry its full member list
// again, after a change that list may not reflect.
func (s *Session) forgetGroup(jid types.JID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.describedGroups, jid.String())
}

// fetchGroup asks WhatsApp for a group's metadata; nil when that fails (the
// message is synced without it, and the next one tries again).
func (s *Session) fetchGroup(ctx context.Context, jid types.JID) *types.GroupInfo {
	ctx, cancel := context.WithTimeout(ctx, groupFetchTimeout)
	defer cancel()
	g, err := s.groups.GetGroupInfo(ctx, jid)
	if err != nil {
		s.log.WarnContext(ctx, "fetch group info", slog.String("chat_jid", jid.String()), slog.String("error", err.Error()))
		return nil
	}
	return g
}

// onHistorySync submits one history blob as history batches, each tried a
// few times. It returns an error when any batch is not accepted: the
// blob's notification then stays pending and is processed again (the
// batches already accepted are no-ops then).
func (s *Session) onHistorySync(ctx context.Context, e *events.HistorySync) error {
	cfg := s.syncConfig()
	now := s.now()
	// An on-demand sync is history the user asked for (ResyncSession),
	// older than what is stored: neither the sync window nor max_chats
	// applies to it, or the answer would be thrown away.
	onDemand := e.Data.GetSyncType() == waHistorySync.HistorySync_ON_DEMAND
	window := cfg.SyncWindowDays
	if onDemand {
		window = 0
	}
	h := TranslateHistorySync(e, chatsync.SyncConfig{SyncWindowDays: window}, now)
	chats := h.Chats
	if !onDemand {
		var over []Skipped
		chats, over = s.admitHistoryChats(chats, int(cfg.MaxChats))
		h.Skipped = append(h.Skipped, over...)
	}
	payloads := SplitBatches(chats, h.Contacts, s.batchSize)
	log := s.log.With(slog.String("sync_type", e.Data.GetSyncType().String()), slog.Int("chunk", int(e.Data.GetChunkOrder())))
	s.reportSkipped(ctx, log, h.Skipped, h.OldMessages)
	for i, p := range payloads {
		batchID := historyBatchID(e.Data, i, p)
		if err := s.submitRetrying(ctx, batchID, p); err != nil {
			return fmt.Errorf("submit history batch %s (%d of %d): %w", batchID, i+1, len(payloads), err)
		}
	}
	log.InfoContext(ctx, "history sync submitted",
		slog.Int("chats", len(chats)), slog.Int("contacts", len(h.Contacts)),
		slog.Int("skipped", len(h.Skipped)), slog.Int("batches", len(payloads)))
	return nil
}

// reportSkipped logs each chat history left out with its reason, and counts
// them, and the messages older than the window, in the metrics and on the
// session (GetSessionHealth). A blob processed again after a failure counts
// again.
func (s *Session) reportSkipped(ctx context.Context, log *slog.Logger, skipped []Skipped, oldMessages int) {
	k := store.HistorySkips{MessagesOutsideWindow: int64(oldMessages)}
	s.metrics.oldMessages(oldMessages)
	for _, sk := range skipped {
		label := skipLabel(sk.Reason)
		level := slog.LevelInfo
		switch label {
		case skipOverMaxChats:
			k.ChatsOverMaxChats++
		case skipOutsideWindow:
			k.ChatsOutsideWindow++
			k.MessagesOutsideWindow += int64(sk.Messages)
		case skipInvalid:
			k.ChatsInvalid++
			level = slog.LevelWarn
		case skipNotAChat:
			level = slog.LevelDebug // status@broadcast and the like: nothing a user lists
		}
		s.metrics.skipped(label, sk.Messages)
		log.Log(ctx, level, "history chat left out", slog.String("chat_jid", sk.JID),
			slog.String("reason", sk.Reason), slog.Int("messages", sk.Messages))
	}
	if err := s.history.AddHistorySkips(ctx, s.id, k); err != nil {
		log.WarnContext(ctx, "count what history left out", slog.String("error", err.Error()))
	}
}

func (s *Session) syncConfig() chatsync.SyncConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// admitHistoryChats keeps chats already admitted and new ones while fewer
// than max are admitted. chats come newest first, and WhatsApp sends the most
// recent conversations in the first blobs, so this keeps roughly the max
// newest chats of the whole sync.
func (s *Session) admitHistoryChats(chats []chatsync.ChatInput, max int) ([]chatsync.ChatInput, []Skipped) {
	if max <= 0 {
		return chats, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		kept []chatsync.ChatInput
		over []Skipped
	)
	for _, c := range chats {
		switch {
		case s.historyChats[c.JID]:
		case len(s.historyChats) < max:
			s.historyChats[c.JID] = true
		default:
			over = append(over, Skipped{JID: c.JID, Reason: ReasonOverMaxChats, Messages: countMessages(c)})
			continue
		}
		kept = append(kept, c)
	}
	return kept, over
}

func (s *Session) submitRetrying(ctx context.Context, batchID string, p chatsync.BatchPayload) error {
	err := s.batches.SubmitBatch(ctx, s.id, chatsync.BatchHistory, batchID, p)
	for _, wait := range s.historyRetry {
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (then %w)", err, ctx.Err())
		case <-t.C:
		}
		err = s.batches.SubmitBatch(ctx, s.id, chatsync.BatchHistory, batchID, p)
	}
	return err
}

// submitEvent submits the translation of a non-message event. ok is false
// only when a translated batch could not be submitted.
func (s *Session) submitEvent(ctx context.Context, kind chatsync.BatchKind, prefix string, p chatsync.BatchPayload, err error, salt ...string) bool {
	if errors.Is(err, ErrNothingToSync) {
		return true
	}
	if err != nil {
		s.log.WarnContext(ctx, "event not synced", slog.String("error", err.Error()))
		return true
	}
	batchID := prefix + contentHash(p, salt...)
	if err := s.batches.SubmitBatch(ctx, s.id, kind, batchID, p); err != nil {
		s.log.ErrorContext(ctx, "submit batch", slog.String("batch_id", batchID), slog.String("error", err.Error()))
		return false
	}
	return true
}

func (s *Session) setStatus(ctx context.Context, st chatsync.SessionStatus, reason string, banExpire time.Time) {
	s.log.InfoContext(ctx, "session status", slog.String("status", string(st)), slog.String("reason", reason))
	if err := s.status.SetStatus(ctx, s.id, st, reason, banExpire); err != nil {
		s.log.ErrorContext(ctx, "set session status", slog.String("status", string(st)), slog.String("error", err.Error()))
	}
}

// Batch IDs are deterministic, so an event WhatsApp delivers twice gives the
// same ID and the server drops the copy. They stay within SyncBatch's
// 1–64 characters of [A-Za-z0-9._:-].

// messageBatchID is "wa:msg:<message id>", or a hash of chat, sender and ID
// when the ID has characters or a length batch IDs cannot take.
func messageBatchID(info types.MessageInfo) string {
	const prefix = "wa:msg:"
	if id := info.ID; len(prefix)+len(id) <= 64 && batchIDSafe(id) {
		return prefix + id
	}
	return prefix + "h" + hashStrings(info.Chat.String(), info.Sender.ToNonAD().String(), info.ID)
}

// historyBatchID is "wa:hist:<sync type>:<chunk order>:<n>:<hash>": the
// hash tells apart blobs of different on-demand requests that share type
// and chunk order.
func historyBatchID(data *waHistorySync.HistorySync, n int, p chatsync.BatchPayload) string {
	return "wa:hist:" + strconv.Itoa(int(data.GetSyncType())) + ":" + strconv.Itoa(int(data.GetChunkOrder())) +
		":" + strconv.Itoa(n) + ":" + contentHash(p)
}

// contentHash is 16 hex digits of SHA-256 over the payload and salt (event
// time or ID, so the same change made twice is not taken for a redelivery).
func contentHash(p chatsync.BatchPayload, salt ...string) string {
	b, err := json.Marshal(p)
	if err != nil {
		b = nil // plain structs always marshal
	}
	return hashStrings(append(salt, string(b))...)
}

func hashStrings(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func batchIDSafe(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
