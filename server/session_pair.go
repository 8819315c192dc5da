package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
)

// PairSession pairs a whatsmeow session in this process: it holds the
// session's lease while the stream runs (no worker connects the half-made
// device), streams QR codes as whatsmeow rotates them or one phone code,
// then success or failure; once paired the device is recorded and a worker
// connects it. Cancelling the stream cancels pairing: the half-made device
// is dropped and the session is pending again.
func (s *sessionServer) PairSession(ctx context.Context, req *chatsyncv1.PairSessionRequest, stream *connect.ServerStream[chatsyncv1.PairSessionResponse]) error {
	sess, err := s.session(ctx, req.GetSessionId())
	if err != nil {
		return err
	}
	if sess.Provider != chatsync.ProviderWhatsmeow {
		return connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("PairSession is for PROVIDER_WHATSMEOW sessions; a %s session links its phone on the provider's side", sess.Provider))
	}
	if s.wa == nil {
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("whatsmeow is not enabled on this server"))
	}
	phone, err := pairingPhone(req.GetPhoneNumber())
	if err != nil {
		return err
	}
	log := s.log.With(slog.Int64("workspace_id", sess.WorkspaceID), slog.Int64("session_id", sess.ID))
	err = s.wa.Pair(ctx, sess, phone, func(step chatsync.PairStep) error {
		msg := pairStepToProto(step)
		if msg == nil {
			log.InfoContext(ctx, "pairing notice", slog.String("reason", step.Reason))
			return nil
		}
		return stream.Send(msg)
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return nil // the client went away; pairing is cancelled
	case errors.Is(err, chatsync.ErrAlreadyPaired):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("the session is already paired; delete it and create a new one to link another phone"))
	case errors.Is(err, chatsync.ErrSessionBusy):
		return connect.NewError(connect.CodeFailedPrecondition, errors.New("the session is being paired or run by another process; end that pairing first"))
	}
	log.WarnContext(ctx, "pairing failed", slog.String("error", err.Error()))
	return unavailable("pairing could not reach WhatsApp right now; retry", err)
}

// pairingPhone checks a phone number for pairing by code: digits with the
// country code, "+" and separators allowed.
func pairingPhone(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	var digits strings.Builder
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", invalidArgument("phone_number: %q is not a phone number", raw)
		}
	}
	d := digits.String()
	if len(d) < 7 || len(d) > 15 || d[0] == '0' {
		return "", invalidArgument("phone_number: want the number in international format with its country code, e.g. +15551234567")
	}
	return d, nil
}

func pairStepToProto(st chatsync.PairStep) *chatsyncv1.PairSessionResponse {
	switch st.Kind {
	case chatsync.PairQR:
		return &chatsyncv1.PairSessionResponse{Event: &chatsyncv1.PairSessionResponse_QrCode{QrCode: &chatsyncv1.PairQRCode{Code: st.Code, ExpireTime: ts(st.ExpiresAt)}}}
	case chatsync.PairPhoneCode:
		return &chatsyncv1.PairSessionResponse{Event: &chatsyncv1.PairSessionResponse_PhoneCode{PhoneCode: &chatsyncv1.PairPhoneCode{Code: st.Code}}}
	case chatsync.PairSuccess:
		return &chatsyncv1.PairSessionResponse{Event: &chatsyncv1.PairSessionResponse_Success{Success: &chatsyncv1.PairSuccess{Jid: st.JID, PushName: st.PushName}}}
	case chatsync.PairFailure:
		return &chatsyncv1.PairSessionResponse{Event: &chatsyncv1.PairSessionResponse_Failure{Failure: &chatsyncv1.PairFailure{Reason: st.Reason}}}
	}
	return nil
}
