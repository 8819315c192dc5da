package wa

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
)

// PhoneLinks plays the phone scanning the QR code (or typing the code):
// what whatsmeow does when WhatsApp's server confirms pairing. It stores
// the device identity and dispatches PairSuccess, which whatsmeow's QR
// channel turns into its success item.
func PhoneLinks(t *testing.T, cli *whatsmeow.Client, deviceJID, pushName string) {
	t.Helper()
	jid := mustJID(t, deviceJID)
	cli.Store.ID = &jid
	cli.Store.PushName = pushName
	cli.Store.Account = testAccount()
	if err := cli.Store.Save(context.Background()); err != nil {
		t.Fatal(err)
	}
	serverSays(cli, &events.PairSuccess{ID: jid, Platform: "android"})
}

// qrServer answers Connect with a list of QR codes, as WhatsApp's server
// does when an unpaired client connects.
func qrServer(conns *clients, codes ...string) *fakeWhatsApp {
	return &fakeWhatsApp{
		ConnectFn: func(cli *whatsmeow.Client) error {
			serverSays(cli, &events.QR{Codes: codes})
			conns.add(cli)
			return nil
		},
		PairPhoneFn: func(_ context.Context, _ *whatsmeow.Client, phone string) (string, error) {
			if phone == "+0" {
				return "", whatsmeow.ErrPhoneNumberIsNotInternational
			}
			return "ABCD-EFGH", nil
		},
	}
}

func newManager(t *testing.T, e *env, tr Transport) *Manager {
	t.Helper()
	m, err := NewManager(ManagerParams{Store: e.st, Devices: e.devices, Redis: e.rdb, Sink: e.sink, Log: discardLogger(), Transport: tr, CallTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pairAsync runs Pair in the background; steps arrive on the channel, the
// result on the other.
func pairAsync(ctx context.Context, m *Manager, s chatsync.Session, phone string) (<-chan PairStep, <-chan error) {
	steps := make(chan PairStep, 16)
	done := make(chan error, 1)
	go func() {
		done <- m.Pair(ctx, s, phone, func(st PairStep) error { steps <- st; return nil })
		close(steps)
	}()
	return steps, done
}

func nextStep(t *testing.T, steps <-chan PairStep) PairStep {
	t.Helper()
	select {
	case st := <-steps:
		return st
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a pairing step")
	}
	return PairStep{}
}

func TestManagerPair(t *testing.T) {
	tests := []struct {
		name     string
		phone    string
		wantStep PairStep
	}{
		{name: "QR code", wantStep: PairStep{Kind: PairQR, Code: "2@first"}},
		{name: "phone code", phone: "+15550001111", wantStep: PairStep{Kind: PairPhoneCode, Code: "ABCD-EFGH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.session(t, "Phone")
			conns := newClients()
			m := newManager(t, e, qrServer(conns, "2@first", "2@second"))
			wakes := e.rdb.Subscribe(t.Context(), WakeChannel)
			defer wakes.Close()
			if _, err := wakes.Receive(t.Context()); err != nil {
				t.Fatal(err)
			}
			steps, done := pairAsync(t.Context(), m, s, tt.phone)
			first := nextStep(t, steps)
			first.ExpiresAt = time.Time{}
			if first != tt.wantStep {
				t.Fatalf("first step %+v, want %+v", first, tt.wantStep)
			}
			if h, _ := Holder(t.Context(), e.rdb, s.ID); h == "" {
				t.Error("no lease held while pairing")
			}
			if got, _ := e.st.SessionByID(t.Context(), s.ID); got.Status != chatsync.SessionPairing {
				t.Errorf("status while pairing %s", got.Status)
			}
			PhoneLinks(t, conns.next(t), "15550001111:9@s.whatsapp.net", "Front desk")
			want := PairStep{Kind: PairSuccess, JID: "15550001111@s.whatsapp.net", PushName: "Front desk"}
			if st := nextStep(t, steps); st != want {
				t.Errorf("final step %+v, want %+v", st, want)
			}
			if err := <-done; err != nil {
				t.Fatalf("Pair: %v", err)
			}
			if jid, _ := e.st.DeviceJID(t.Context(), s.ID); jid != "15550001111:9@s.whatsapp.net" {
				t.Errorf("device JID %q", jid)
			}
			got, _ := e.st.SessionByID(t.Context(), s.ID)
			if got.JID != "15550001111@s.whatsapp.net" || got.PushName != "Front desk" || got.Status != chatsync.SessionDisconnected {
				t.Errorf("session after pairing %+v", got)
			}
			if dev, err := e.devices.GetDevice(t.Context(), mustJID(t, "15550001111:9@s.whatsapp.net")); err != nil || dev == nil {
				t.Errorf("device not in the device store: %v", err)
			}
			if h, _ := Holder(t.Context(), e.rdb, s.ID); h != "" {
				t.Errorf("lease still held by %q after pairing", h)
			}
			select {
			case <-wakes.Channel():
			case <-time.After(5 * time.Second):
				t.Error("supervisors were not woken")
			}
			// Paired now: pairing again is refused.
			if err := m.Pair(t.Context(), s, "", func(PairStep) error { return nil }); !errors.Is(err, ErrAlreadyPaired) {
				t.Errorf("pairing a paired session: %v", err)
			}
		})
	}
}

func TestManagerPairEnds(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		e := newEnv(t)
		s := e.session(t, "Phone")
		conns := newClients()
		m := newManager(t, e, qrServer(conns, "2@first"))
		ctx, cancel := context.WithCancel(t.Context())
		steps, done := pairAsync(ctx, m, s, "")
		nextStep(t, steps)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Pair after cancel = %v", err)
		}
		got, _ := e.st.SessionByID(t.Context(), s.ID)
		if got.Status != chatsync.SessionPending {
			t.Errorf("status after cancel %s, want pending", got.Status)
		}
		if jid, _ := e.st.DeviceJID(t.Context(), s.ID); jid != "" {
			t.Errorf("device %q linked by a cancelled pairing", jid)
		}
		if h, _ := Holder(t.Context(), e.rdb, s.ID); h != "" {
			t.Errorf("lease held by %q after cancel", h)
		}
		if all, _ := e.devices.GetAllDevices(t.Context()); len(all) != 0 {
			t.Errorf("%d devices saved by a cancelled pairing", len(all))
		}
	})
	t.Run("phone number refused", func(t *testing.T) {
		e := newEnv(t)
		s := e.session(t, "Phone")
		m := newManager(t, e, qrServer(newClients(), "2@first"))
		steps, done := pairAsync(t.Context(), m, s, "+0")
		st := nextStep(t, steps)
		if st.Kind != PairFailure || st.Reason == "" {
			t.Errorf("step %+v, want a failure", st)
		}
		if err := <-done; err != nil {
			t.Errorf("Pair: %v", err)
		}
	})
	t.Run("lease held", func(t *testing.T) {
		e := newEnv(t)
		s := e.session(t, "Phone")
		m := newManager(t, e, qrServer(newClients(), "2@first"))
		if ok, _ := NewLeases(e.rdb, "worker-x", time.Minute).Acquire(t.Context(), s.ID); !ok {
			t.Fatal("could not take the lease")
		}
		if err := m.Pair(t.Context(), s, "", func(PairStep) error { return nil }); !errors.Is(err, ErrLeaseHeld) {
			t.Errorf("Pair while another holds the lease = %v", err)
		}
	})
	t.Run("connect fails", func(t *testing.T) {
		e := newEnv(t)
		s := e.session(t, "Phone")
		m := newManager(t, e, &fakeWhatsApp{ConnectFn: func(*whatsmeow.Client) error { return errors.New("dial tcp: refused") }})
		if err := m.Pair(t.Context(), s, "", func(PairStep) error { return nil }); err == nil {
			t.Error("Pair without a connection: no error")
		}
		if got, _ := e.st.SessionByID(t.Context(), s.ID); got.Status != chatsync.SessionPending {
			t.Errorf("status %s, want pending", got.Status)
		}
	})
}

func TestManagerRemove(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	m := newManager(t, e, nil)
	unpaired := e.session(t, "New")
	if out, err := m.Remove(ctx, unpaired.ID); err != nil || out {
		t.Errorf("Remove of an unpaired session = %v, %v", out, err)
	}
	s := e.pairedSession(t, "Phone", "15550001111:3@s.whatsapp.net")
	// No process runs it: only the local keys go.
	if _, err := m.Send(ctx, s.ID, "15551234567@s.whatsapp.net", "hi"); !errors.Is(err, ErrNoOwner) {
		t.Errorf("Send to a session no one runs = %v", err)
	}
	out, err := m.Remove(ctx, s.ID)
	if err != nil || out {
		t.Fatalf("Remove = %v, %v", out, err)
	}
	if dev, _ := e.devices.GetDevice(ctx, types.NewADJID("15550001111", 0, 3)); dev != nil {
		t.Error("device keys still in the device store")
	}
	if jid, _ := e.st.DeviceJID(ctx, s.ID); jid != "" {
		t.Errorf("device %q still linked", jid)
	}

	// Run by a (fake) owner that logs out: WhatsApp is told.
	s2 := e.pairedSession(t, "Second", "15550002222:4@s.whatsapp.net")
	rctx, cancel := context.WithCancel(ctx)
	r := NewResponder(rctx, e.rdb, discardLogger())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := r.Serve(ctx, s2.ID, func(_ context.Context, req Request) Response {
		if req.Kind != RequestLogout {
			return Response{Error: "unexpected " + string(req.Kind)}
		}
		return Response{}
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := m.Remove(ctx, s2.ID); err != nil || !out {
		t.Errorf("Remove through the owner = %v, %v; want logged out", out, err)
	}
	if dev, _ := e.devices.GetDevice(ctx, types.NewADJID("15550002222", 0, 4)); dev != nil {
		t.Error("device keys still in the device store")
	}
}

func TestPairedSessionIsHandedToASupervisor(t *testing.T) {
	e := newEnv(t)
	s := e.session(t, "Phone")
	pairing, running := newClients(), newClients()
	// One WhatsApp for both processes: an unpaired client gets QR codes, a
	// paired one is logged in.
	tr := &fakeWhatsApp{ConnectFn: func(cli *whatsmeow.Client) error {
		if cli.Store.ID == nil {
			serverSays(cli, &events.QR{Codes: []string{"2@a"}})
			pairing.add(cli)
			return nil
		}
		running.add(cli)
		serverSays(cli, &events.Connected{})
		return nil
	}}
	// Polls once an hour: only the wake-up can bring the session in.
	sup := supervise(t, e, tr, func(p *SupervisorParams) { p.Poll = time.Hour })
	m := newManager(t, e, tr)
	steps, done := pairAsync(t.Context(), m, s, "")
	nextStep(t, steps)
	PhoneLinks(t, pairing.next(t), "15550001111:9@s.whatsapp.net", "Front desk")
	if st := nextStep(t, steps); st.Kind != PairSuccess {
		t.Fatalf("step %+v", st)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cli := running.next(t)
	if cli.Store.ID == nil || cli.Store.ID.String() != "15550001111:9@s.whatsapp.net" {
		t.Errorf("supervisor connected device %v", cli.Store.ID)
	}
	waitFor(t, "connected", func() bool {
		got, _ := e.st.SessionByID(t.Context(), s.ID)
		return got.Status == chatsync.SessionConnected
	})
	if got := sup.Running(); len(got) != 1 || got[0] != s.ID {
		t.Errorf("supervisor runs %v", got)
	}
}
