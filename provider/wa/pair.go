package wa

import (
	"context"
	"iter"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
)

// PairStepKind says what a pairing step carries.
type PairStepKind string

// Pairing steps, as PairSession streams them.
const (
	// PairQR: a QR code to show until ExpiresAt, when the next one comes.
	PairQR PairStepKind = "qr"
	// PairPhoneCode: the code to type on the phone (pairing by phone number).
	PairPhoneCode PairStepKind = "phone_code"
	// PairNotice: something the user should know; pairing goes on.
	PairNotice PairStepKind = "notice"
	// PairSuccess: the device is linked; JID and PushName say to whom. Final.
	PairSuccess PairStepKind = "paired"
	// PairFailure: pairing is over without a device; Reason says why. Final.
	PairFailure PairStepKind = "failed"
)

// PairStep is one step of pairing a session with a phone.
type PairStep struct {
	Kind      PairStepKind
	Code      string    // PairQR: the QR payload; PairPhoneCode: the code
	ExpiresAt time.Time // PairQR: when the code rotates
	JID       string    // PairSuccess: the account's JID, without device
	PushName  string    // PairSuccess: the account's name, when already known
	Reason    string    // PairFailure, PairNotice: for a person to read
}

// Final reports whether the step ends pairing.
func (s PairStep) Final() bool { return s.Kind == PairSuccess || s.Kind == PairFailure }

// Whatsmeow's QR channel events (qrchan.go). "code" and "error" have
// exported constants; the rest are only exported as whole items.
const (
	qrEventSuccess          = "success"
	qrEventTimeout          = "timeout"
	qrEventUnexpectedState  = "err-unexpected-state"
	qrEventClientOutdated   = "err-client-outdated"
	qrEventScannedWithoutMD = "err-scanned-without-multidevice"
)

// PairSteps turns whatsmeow's QR channel into pairing steps. It ends after
// the first final step, when the channel closes (with a failure step if no
// final item came), or, without a step, when ctx is done. paired is asked
// for the account's JID and push name on success, since whatsmeow's success
// item does not carry them (the device store does).
func PairSteps(ctx context.Context, items <-chan whatsmeow.QRChannelItem, now func() time.Time, paired func() (jid, pushName string)) iter.Seq[PairStep] {
	return func(yield func(PairStep) bool) {
		for {
			select {
			case <-ctx.Done():
				return
			case it, ok := <-items:
				if !ok {
					// whatsmeow closes the channel when ctx ends too, and
					// select may see that first: a cancellation, not a failure.
					if ctx.Err() == nil {
						yield(PairStep{Kind: PairFailure, Reason: "pairing ended without a result"})
					}
					return
				}
				step, ok := pairStep(it, now, paired)
				if !ok {
					continue
				}
				if !yield(step) || step.Final() {
					return
				}
			}
		}
	}
}

// pairStep maps one QR channel item; ok is false for items that are neither
// a code, a notice nor an end (none exist today; future ones are ignored
// unless they look like an error).
func pairStep(it whatsmeow.QRChannelItem, now func() time.Time, paired func() (string, string)) (PairStep, bool) {
	switch it.Event {
	case whatsmeow.QRChannelEventCode:
		return PairStep{Kind: PairQR, Code: it.Code, ExpiresAt: now().Add(it.Timeout)}, true
	case qrEventSuccess:
		jid, name := paired()
		return PairStep{Kind: PairSuccess, JID: jid, PushName: name}, true
	case qrEventTimeout:
		return failure("the QR code was not scanned in time"), true
	case qrEventUnexpectedState:
		return failure("the connection reached an unexpected state; the device may already be paired"), true
	case qrEventClientOutdated:
		return failure("WhatsApp rejected this client as outdated; chatsync needs an update"), true
	case qrEventScannedWithoutMD:
		// whatsmeow keeps the channel open: the same code can be scanned again.
		return PairStep{Kind: PairNotice, Reason: "the code was scanned by a phone without multi-device support; update WhatsApp on the phone and scan again"}, true
	case whatsmeow.QRChannelEventError:
		if it.Error != nil {
			return failure("pairing failed: " + it.Error.Error()), true
		}
		return failure("pairing failed"), true
	}
	if strings.HasPrefix(it.Event, "err") {
		return failure("pairing failed: " + it.Event), true
	}
	return PairStep{}, false
}

func failure(reason string) PairStep { return PairStep{Kind: PairFailure, Reason: reason} }
