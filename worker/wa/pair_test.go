package wa

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
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
