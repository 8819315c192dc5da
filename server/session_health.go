package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
	"github.com/chatsync/chatsync/store"
)

// healthWindow is the window of GetSessionHealth's rates and of the
// /metrics figures computed from sync_batches.
const healthWindow = time.Hour

// GetSessionHealth reports the seed's health figures of a session, from
// the session row (status, sync) and its sync_batches (queue, performance
// over the last hour).
func (s *sessionServer) GetSessionHealth(ctx context.Context, req *chatsyncv1.GetSessionHealthRequest) (*chatsyncv1.GetSessionHealthResponse, error) {
	sess, err := s.session(ctx, req.GetSessionId())
	if err != nil {
		return nil, err
	}
	f, err := s.store.SessionBatchFigures(ctx, sess.ID, s.now().Add(-healthWindow))
	if err != nil {
		return nil, toConnect(err)
	}
	waiting, err := s.store.WaitingMessages(ctx, sess.ID)
	if err != nil {
		return nil, toConnect(err)
	}
	hist, err := s.store.HistoryFigures(ctx, sess.ID)
	if err != nil {
		return nil, toConnect(err)
	}
	var sidecar *chatsyncv1.SidecarHealth
	if sess.Provider == chatsync.ProviderWebJS {
		sh, err := s.store.SidecarHealth(ctx, sess.ID)
		if err != nil {
			return nil, toConnect(err)
		}
		sidecar = sidecarHealthToProto(sh)
	}
	h := &chatsyncv1.SessionHealth{
		Status: sessionStatuses[sess.Status],
		Sync: &chatsyncv1.SyncHealth{
			LastSyncTime: ts(sess.LastSyncAt), TotalSynced: sess.TotalSynced,
			SyncStatus: syncStatuses[sess.SyncStatus], LastError: sess.LastError, WaitingMessages: waiting,
		},
		Queue:       &chatsyncv1.QueueHealth{Depth: f.Pending, FailedJobs: f.Failed, ProcessingRate: processingRate(f)},
		Performance: performance(f),
		History: &chatsyncv1.HistoryHealth{
			ChatsOverMaxChats: hist.ChatsOverMaxChats, ChatsOutsideWindow: hist.ChatsOutsideWindow, ChatsInvalid: hist.ChatsInvalid,
			MessagesOutsideWindow: hist.MessagesOutsideWindow, PendingBlobs: hist.PendingBlobs, LostBlobs: hist.LostBlobs,
		},
		Sidecar: sidecar,
	}
	return &chatsyncv1.GetSessionHealthResponse{SessionId: req.GetSessionId(), Health: h}, nil
}

// sidecarHealthToProto is nil before the sidecar's first report.
func sidecarHealthToProto(h store.SidecarHealth) *chatsyncv1.SidecarHealth {
	st := sidecarStatusToProto(h.Status)
	if st == nil {
		return nil
	}
	out := &chatsyncv1.SidecarHealth{
		Status: st, LastSyncTime: ts(h.SyncAt), LastSyncTotal: h.Sync.Total, LastSyncSynced: h.Sync.Synced,
		UnreadableChatCount: h.Sync.UnreadableCount,
	}
	for _, c := range h.Sync.Unreadable {
		out.UnreadableChats = append(out.UnreadableChats, &chatsyncv1.UnreadableChat{ChatJid: c.JID, Reason: c.Reason})
	}
	return out
}

// processingRate is finished batches per minute over the window.
func processingRate(f store.BatchFigures) float64 {
	return float64(f.Finished()) / healthWindow.Minutes()
}

func ratios(f store.BatchFigures) (success, failure float64) {
	if n := f.Finished(); n > 0 {
		return float64(f.Completed) / float64(n), float64(f.Failed) / float64(n)
	}
	return 0, 0
}

func performance(f store.BatchFigures) *chatsyncv1.PerformanceHealth {
	success, failure := ratios(f)
	return &chatsyncv1.PerformanceHealth{
		AvgSyncDuration: durationpb.New(f.AvgDuration), SuccessRate: success, ErrorRate: failure,
		Window: durationpb.New(healthWindow),
	}
}
