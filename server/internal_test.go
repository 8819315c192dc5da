package server

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"

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
