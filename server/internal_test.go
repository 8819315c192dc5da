package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/provider/wa"
	"github.com/chatsync/chatsync/store"
)

func TestPairingPhone(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "+1 (555) 000-1111": "15550001111", "62.812.345.6789": "628123456789"} {
		if got, err := pairingPhone(in); err != nil || got != want {
			t.Errorf("pairingPhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"12345", "+0812345678", "call me", "1234567890123456"} {
		if _, err := pairingPhone(in); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("pairingPhone(%q): %v, want invalid_argument", in, err)
		}
	}
}

func TestPairStepToProto(t *testing.T) {
	t.Parallel()
	if pairStepToProto(wa.PairStep{Kind: wa.PairNotice, Reason: "scan again"}) != nil {
		t.Error("a notice became a stream message")
	}
	if m := pairStepToProto(wa.PairStep{Kind: wa.PairFailure, Reason: "timeout"}); m.GetFailure().GetReason() != "timeout" {
		t.Errorf("failure %v", m)
	}
}

func TestStreamEndAndCommandProto(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	if err := streamEnd(ctx, errors.New("db down")); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("streamEnd = %v", err)
	}
	cancel()
	if err := streamEnd(ctx, errors.New("db down")); err != nil {
		t.Errorf("streamEnd after the client left = %v", err)
	}
	if c := commandToProto(store.Command{ID: 3, Kind: "other"}); c.GetCommandId() != "3" || c.GetCommand() != nil {
		t.Errorf("unknown kind %v", c)
	}
}

func TestToConnectHidesProviderCauses(t *testing.T) {
	t.Parallel()
	err := toConnect(fmt.Errorf("deliver commands: %w: dial tcp 10.0.0.7:6379: connection refused", chatsync.ErrProviderUnavailable))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("code %v, want unavailable", connect.CodeOf(err))
	}
	if msg := err.Error(); strings.Contains(msg, "10.0.0.7") || !strings.Contains(msg, "provider is unavailable") {
		t.Errorf("client reads %q", msg)
	}
	if !errors.Is(err, chatsync.ErrProviderUnavailable) {
		t.Error("the cause is lost for the log")
	}
	for _, sentinel := range []error{chatsync.ErrNotPaired, chatsync.ErrWrongProvider} {
		if c := connect.CodeOf(toConnect(fmt.Errorf("x: %w", sentinel))); c != connect.CodeFailedPrecondition {
			t.Errorf("%v: %v, want failed_precondition", sentinel, c)
		}
	}
}
