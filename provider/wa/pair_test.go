package wa

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCompanionReg"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
)

func fixedNow() time.Time { return testNow }

func pairedAs(jid, name string) func() (string, string) {
	return func() (string, string) { return jid, name }
}

// feed returns a closed-or-open channel holding items, as whatsmeow's
// GetQRChannel hands them out.
func feed(closeAfter bool, items ...whatsmeow.QRChannelItem) <-chan whatsmeow.QRChannelItem {
	ch := make(chan whatsmeow.QRChannelItem, len(items))
	for _, it := range items {
		ch <- it
	}
	if closeAfter {
		close(ch)
	}
	return ch
}

func code(c string, d time.Duration) whatsmeow.QRChannelItem {
	return whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventCode, Code: c, Timeout: d}
}

func TestPairSteps(t *testing.T) {
	t.Parallel()
	success := PairStep{Kind: PairSuccess, JID: "15559990000@s.whatsapp.net", PushName: "Front desk"}
	tests := []struct {
		name  string
		items <-chan whatsmeow.QRChannelItem
		want  []PairStep
	}{
		{
			name:  "codes rotate then success",
			items: feed(true, code("2@first", 60*time.Second), code("2@second", 20*time.Second), whatsmeow.QRChannelSuccess),
			want: []PairStep{
				{Kind: PairQR, Code: "2@first", ExpiresAt: testNow.Add(60 * time.Second)},
				{Kind: PairQR, Code: "2@second", ExpiresAt: testNow.Add(20 * time.Second)},
				success,
			},
		},
		{
			name:  "timeout",
			items: feed(true, code("2@first", 60*time.Second), whatsmeow.QRChannelTimeout),
			want: []PairStep{
				{Kind: PairQR, Code: "2@first", ExpiresAt: testNow.Add(60 * time.Second)},
				failure("the QR code was not scanned in time"),
			},
		},
		{
			name:  "scanned without multidevice is not the end",
			items: feed(true, code("2@a", time.Minute), whatsmeow.QRChannelScannedWithoutMultidevice, whatsmeow.QRChannelSuccess),
			want: []PairStep{
				{Kind: PairQR, Code: "2@a", ExpiresAt: testNow.Add(time.Minute)},
				{Kind: PairNotice, Reason: "the code was scanned by a phone without multi-device support; update WhatsApp on the phone and scan again"},
				success,
			},
		},
		{
			name:  "client outdated",
			items: feed(true, whatsmeow.QRChannelClientOutdated),
			want:  []PairStep{failure("WhatsApp rejected this client as outdated; chatsync needs an update")},
		},
		{
			name:  "unexpected state",
			items: feed(true, whatsmeow.QRChannelErrUnexpectedEvent),
			want:  []PairStep{failure("the connection reached an unexpected state; the device may already be paired")},
		},
		{
			name:  "pair error",
			items: feed(true, whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventError, Error: errors.New("failed to verify device identity")}),
			want:  []PairStep{failure("pairing failed: failed to verify device identity")},
		},
		{
			name:  "pair error without an error",
			items: feed(true, whatsmeow.QRChannelItem{Event: whatsmeow.QRChannelEventError}),
			want:  []PairStep{failure("pairing failed")},
		},
		{
			name:  "a future error event",
			items: feed(true, whatsmeow.QRChannelItem{Event: "err-something-new"}),
			want:  []PairStep{failure("pairing failed: err-something-new")},
		},
		{
			name:  "unknown events are ignored, a bare close fails",
			items: feed(true, whatsmeow.QRChannelItem{Event: "progress"}),
			want:  []PairStep{failure("pairing ended without a result")},
		},
		{
			name:  "nothing after the final step is read",
			items: feed(false, whatsmeow.QRChannelTimeout, code("2@late", time.Minute)),
			want:  []PairStep{failure("the QR code was not scanned in time")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := slices.Collect(PairSteps(t.Context(), tt.items, fixedNow, pairedAs(success.JID, success.PushName)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("steps:\n got %+v\nwant %+v", got, tt.want)
			}
			if last := got[len(got)-1]; !last.Final() {
				t.Errorf("last step %s is not final", last.Kind)
			}
		})
	}
}

func TestPairStepsContext(t *testing.T) {
	t.Parallel()
	t.Run("cancelled while waiting ends without a step", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		items := make(chan whatsmeow.QRChannelItem) // whatsmeow never sends
		done := make(chan []PairStep)
		go func() { done <- slices.Collect(PairSteps(ctx, items, fixedNow, pairedAs("", ""))) }()
		cancel()
		select {
		case got := <-done:
			if len(got) != 0 {
				t.Errorf("got %+v after cancel, want no steps", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("PairSteps did not end on cancel")
		}
	})
	t.Run("cancelled between codes", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		items := make(chan whatsmeow.QRChannelItem, 1)
		items <- code("2@first", time.Minute)
		var got []PairStep
		for step := range PairSteps(ctx, items, fixedNow, pairedAs("", "")) {
			got = append(got, step)
			cancel() // the client goes away after the first code
		}
		if len(got) != 1 || got[0].Kind != PairQR {
			t.Errorf("got %+v, want the one QR step", got)
		}
	})
	t.Run("channel closed by the cancellation is not a failure", func(t *testing.T) {
		t.Parallel()
		// whatsmeow closes the channel when the context ends; both are
		// ready, and whichever select picks, no failure step comes out.
		for range 100 {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if got := slices.Collect(PairSteps(ctx, feed(true), fixedNow, pairedAs("", ""))); len(got) != 0 {
				t.Fatalf("got %+v after cancel, want no steps", got)
			}
		}
	})
	t.Run("consumer stops early", func(t *testing.T) {
		t.Parallel()
		items := feed(true, code("2@a", time.Minute), code("2@b", time.Minute))
		for step := range PairSteps(t.Context(), items, fixedNow, pairedAs("", "")) {
			if step.Code != "2@a" {
				t.Errorf("got %q after break", step.Code)
			}
			break
		}
	})
}

// TestSessionPair drives Session.Pair through whatsmeow's real QR channel:
// the test plays the server by dispatching the events whatsmeow emits after
// connecting (QR, PairSuccess, PairError) on the client.
func TestSessionPair(t *testing.T) {
	t.Parallel()
	owner := "15559990000@s.whatsapp.net"
	tests := []struct {
		name  string
		phone string
		// onStep plays the phone's side after each step; it may cancel.
		onStep     func(t *testing.T, h *harness, step PairStep, cancel context.CancelFunc)
		pairPhone  func(context.Context, string) (string, error)
		wantKinds  []PairStepKind
		wantErr    error
		wantStatus []chatsync.SessionStatus
	}{
		{
			name: "QR scanned",
			onStep: func(t *testing.T, h *harness, step PairStep, _ context.CancelFunc) {
				if step.Kind != PairQR {
					return
				}
				// What whatsmeow's handlePair does before emitting success.
				h.client.Store.ID = ptrJID(t, "15559990000:12@s.whatsapp.net")
				h.client.Store.PushName = "Front desk"
				h.dispatch(&events.PairSuccess{ID: *h.client.Store.ID, Platform: "android"})
			},
			wantKinds:  []PairStepKind{PairQR, PairSuccess},
			wantStatus: []chatsync.SessionStatus{chatsync.SessionPairing},
		},
		{
			name:  "phone code, then a pairing error",
			phone: "+1 555 999 0000",
			pairPhone: func(_ context.Context, phone string) (string, error) {
				if phone != "+1 555 999 0000" {
					return "", errors.New("wrong phone " + phone)
				}
				return "ABCD-EFGH", nil
			},
			onStep: func(t *testing.T, h *harness, step PairStep, _ context.CancelFunc) {
				switch step.Kind {
				case PairPhoneCode:
					h.dispatch(&events.QRScannedWithoutMultidevice{})
				case PairNotice:
					h.dispatch(&events.PairError{Error: errors.New("key mismatch")})
				}
			},
			wantKinds:  []PairStepKind{PairPhoneCode, PairNotice, PairFailure},
			wantStatus: []chatsync.SessionStatus{chatsync.SessionPairing, chatsync.SessionPending},
		},
		{
			name:  "phone number refused",
			phone: "0123",
			pairPhone: func(context.Context, string) (string, error) {
				return "", whatsmeow.ErrPhoneNumberTooShort
			},
			wantKinds:  []PairStepKind{PairFailure},
			wantStatus: []chatsync.SessionStatus{chatsync.SessionPairing, chatsync.SessionPending},
		},
		{
			name: "stream cancelled",
			onStep: func(_ *testing.T, _ *harness, _ PairStep, cancel context.CancelFunc) {
				cancel()
			},
			wantKinds:  []PairStepKind{PairQR},
			wantErr:    context.Canceled,
			wantStatus: []chatsync.SessionStatus{chatsync.SessionPairing, chatsync.SessionPending},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, chatsync.SyncConfig{})
			h.connectHook = func() {
				h.dispatch(&events.QR{Codes: []string{"2@first,key,key,adv", "2@second,key,key,adv"}})
			}
			if tt.pairPhone != nil {
				h.s.pairPhone = tt.pairPhone
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var steps []PairStep
			err := h.s.Pair(ctx, tt.phone, func(step PairStep) error {
				steps = append(steps, step)
				if tt.onStep != nil {
					tt.onStep(t, h, step, cancel)
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Pair = %v, want %v", err, tt.wantErr)
			}
			var kinds []PairStepKind
			for _, s := range steps {
				kinds = append(kinds, s.Kind)
			}
			if !slices.Equal(kinds, tt.wantKinds) {
				t.Fatalf("steps %+v, want kinds %v", steps, tt.wantKinds)
			}
			switch first := steps[0]; first.Kind {
			case PairQR:
				if first.Code != "2@first,key,key,adv" || !first.ExpiresAt.Equal(testNow.Add(20*time.Second)) {
					t.Errorf("QR step %+v", first)
				}
			case PairPhoneCode:
				if first.Code != "ABCD-EFGH" {
					t.Errorf("phone code step %+v", first)
				}
			}
			if last := steps[len(steps)-1]; last.Kind == PairSuccess && (last.JID != owner || last.PushName != "Front desk") {
				t.Errorf("success step %+v, want %s Front desk", last, owner)
			}
			var statuses []chatsync.SessionStatus
			for _, c := range h.statusCalls() {
				statuses = append(statuses, c.Status)
			}
			if !slices.Equal(statuses, tt.wantStatus) {
				t.Errorf("statuses %v, want %v", statuses, tt.wantStatus)
			}
		})
	}
}

func TestSessionPairErrors(t *testing.T) {
	t.Parallel()
	noEmit := func(step PairStep) error {
		t.Errorf("step %+v emitted", step)
		return nil
	}
	t.Run("already paired", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.client.Store.ID = ptrJID(t, "15559990000:12@s.whatsapp.net")
		if err := h.s.Pair(t.Context(), "", noEmit); !errors.Is(err, ErrAlreadyPaired) {
			t.Errorf("got %v, want ErrAlreadyPaired", err)
		}
	})
	t.Run("connect fails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.connectErr = errors.New("dial tcp: i/o timeout")
		err := h.s.Pair(t.Context(), "", noEmit)
		if err == nil || !strings.Contains(err.Error(), "i/o timeout") {
			t.Errorf("got %v, want the connect error", err)
		}
		if st := h.statusCalls(); len(st) != 2 || st[1].Status != chatsync.SessionPending {
			t.Errorf("statuses %+v, want pairing then pending", st)
		}
	})
	t.Run("emit fails", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, chatsync.SyncConfig{})
		h.connectHook = func() { h.dispatch(&events.QR{Codes: []string{"2@only"}}) }
		sendErr := errors.New("stream closed by client")
		err := h.s.Pair(t.Context(), "", func(PairStep) error { return sendErr })
		if !errors.Is(err, sendErr) {
			t.Errorf("got %v, want the emit error", err)
		}
	})
}

// A pairing connects with the session's device props (the full history
// sync asked for, limited to the sync window, none for 0, whatever another
// session asked for before) and without whatsmeow's own login after the
// pairing's 515: a supervisor logs the session in.
func TestPairAsksForTheSessionsHistory(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		window int32
		want   *uint32
	}{{365, proto.Uint32(365)}, {0, nil}, {30, proto.Uint32(30)}} {
		h := newHarness(t, chatsync.SyncConfig{SyncWindowDays: tt.window})
		var sent *waCompanionReg.DeviceProps
		var autoLogin bool
		h.connectHook = func() {
			// What whatsmeow marshals into the registration payload now.
			sent = proto.Clone(store.DeviceProps).(*waCompanionReg.DeviceProps)
			autoLogin = !h.client.DisableLoginAutoReconnect
			h.dispatch(&events.QR{Codes: []string{"2@first,key,key,adv"}})
		}
		ctx, cancel := context.WithCancel(t.Context())
		err := h.s.Pair(ctx, "", func(PairStep) error { cancel(); return nil })
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("window %d: Pair = %v", tt.window, err)
		}
		if autoLogin {
			t.Errorf("window %d: the pairing client would log in again by itself after the pairing's 515", tt.window)
		}
		if sent == nil || !sent.GetRequireFullSync() {
			t.Fatalf("window %d: props %v, want the full sync required", tt.window, sent)
		}
		if got := sent.GetHistorySyncConfig().FullSyncDaysLimit; (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("window %d: FullSyncDaysLimit %v, want %v", tt.window, got, tt.want)
		}
	}
}
