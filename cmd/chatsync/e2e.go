package main

import "github.com/chatsync/chatsync/provider/wa"

// pairingTransport is how PairSession reaches WhatsApp; nil is WhatsApp
// itself (wa.WhatsApp). Only a binary built with -tags e2e sets it, in
// e2e_hook.go, to a fake that hands out QR codes, for the browser tests.
// TestProductionBuildHasNoE2EHook keeps it nil everywhere else.
var pairingTransport wa.Transport
