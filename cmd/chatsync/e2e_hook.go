//go:build e2e

package main

import (
	"context"
	"fmt"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"
)

// This file is compiled only into the binary of the browser e2e suite
// (`go build -tags e2e`, run by `go tool task test:e2e`). WhatsApp's
// servers cannot be reached there, so pairing talks to fakeWhatsApp
// instead: it answers a connect with QR codes the way WhatsApp's server
// does, through whatsmeow's event boundary, so whatsmeow's real QR channel
// and chatsync's real pairing code run. Nobody ever scans them: pairing
// ends when the browser cancels or the codes run out.

func init() { pairingTransport = fakeWhatsApp{} }

// e2eQRCodes are the codes the fake server hands out, the first one valid
// for 60 s as with WhatsApp; web/e2e/pairing.spec.ts expects the first.
var e2eQRCodes = func() []string {
	codes := make([]string, 6)
	for i := range codes {
		codes[i] = fmt.Sprintf("2@chatsync-e2e-ref-%d,Zm9vYmFyYmF6cXV4,cXV1eGJhemJhcmZvbw==,c2VjcmV0", i+1)
	}
	return codes
}()

// e2ePhoneCode is the code the fake answers a pairing by phone number with.
const e2ePhoneCode = "E2E4-PAIR"

type fakeWhatsApp struct{}

func (fakeWhatsApp) Connect(cli *whatsmeow.Client) error {
	//lint:ignore SA1019 the only way to inject an event without a socket
	cli.DangerousInternals().DispatchEvent(&events.QR{Codes: e2eQRCodes}) //nolint:staticcheck // as above
	return nil
}

func (fakeWhatsApp) PairPhone(context.Context, *whatsmeow.Client, string) (string, error) {
	return e2ePhoneCode, nil
}
