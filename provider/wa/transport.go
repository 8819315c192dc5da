package wa

import (
	"context"
	"log/slog"

	"go.mau.fi/libsignal/logger"
	"go.mau.fi/whatsmeow"
)

// Transport is how a client reaches WhatsApp's servers: Connect opens the
// websocket (whatsmeow then dispatches what the servers say as events), and
// PairPhone asks for a phone pairing code on an open connection.
// chatsync runs on WhatsApp, the real one. WhatsApp's servers cannot be
// reached from tests, so they pass a Transport that plays the servers' side
// through the client's event boundary instead: the events it dispatches are
// whatsmeow's real types, handled by whatsmeow's real QR channel and by
// chatsync's real handlers.
type Transport interface {
	Connect(cli *whatsmeow.Client) error
	PairPhone(ctx context.Context, cli *whatsmeow.Client, phone string) (string, error)
}

// WhatsApp is the Transport to WhatsApp's servers (whatsmeow's own).
type WhatsApp struct{}

// Connect opens the client's websocket.
func (WhatsApp) Connect(cli *whatsmeow.Client) error { return cli.Connect() }

// PairPhone asks WhatsApp for a phone pairing code, shown as a Chrome on
// Linux linked device.
func (WhatsApp) PairPhone(ctx context.Context, cli *whatsmeow.Client, phone string) (string, error) {
	return cli.PairPhone(ctx, phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
}

// SetupSignalLogger installs log as libsignal's logger. libsignal keeps its
// logger in a package variable and sets a default (printing every debug line
// to stdout) lazily and without a lock the first time it logs, so concurrent
// sessions race on it: a process calls this once, at startup, before any
// whatsmeow client runs. Debug lines (key material details) are dropped.
func SetupSignalLogger(log *slog.Logger) {
	var l logger.Loggable = signalLogger{log: log.With(slog.String("module", "libsignal"))}
	logger.Setup(&l)
}

type signalLogger struct{ log *slog.Logger }

func (signalLogger) Debug(string, string) {}
func (l signalLogger) Info(caller, msg string) {
	l.log.Debug(msg, slog.String("caller", caller)) //nolint:sloglint // adapter: libsignal names its own messages
}
func (l signalLogger) Warning(caller, msg string) {
	l.log.Warn(msg, slog.String("caller", caller)) //nolint:sloglint // adapter, as above
}
func (l signalLogger) Error(caller, msg string) {
	l.log.Error(msg, slog.String("caller", caller)) //nolint:sloglint // adapter, as above
}
func (signalLogger) Configure(string) {}
