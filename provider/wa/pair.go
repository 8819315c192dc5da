package wa

import (
	"context"
	"iter"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"

	"github.com/chatsync/chatsync"
)

// The pairing steps are domain types (the server streams them); the
// names stay here for this package's code.
type (
	PairStepKind = chatsync.PairStepKind
	PairStep     = chatsync.PairStep
)

// Pairing steps.
const (
	PairQR        = chatsync.PairQR
	PairPhoneCode = chatsync.PairPhoneCode
	PairNotice    = chatsync.PairNotice
	PairSuccess   = chatsync.PairSuccess
	PairFailure   = chatsync.PairFailure
)

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
