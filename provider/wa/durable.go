package wa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync/store"
)

// historyQueue keeps history-sync notifications durably: the store's
// wa_history_notifications, through the Sink.
type historyQueue interface {
	SaveHistoryNotification(ctx context.Context, sessionID int64, messageID string, notification []byte) error
	PendingHistoryNotifications(ctx context.Context, sessionID int64, limit int) ([]store.HistoryNotification, error)
	FinishHistoryNotification(ctx context.Context, id int64) error
	HistoryNotificationFailed(ctx context.Context, id int64, errMsg string, permanent bool) error
	AddHistorySkips(ctx context.Context, sessionID int64, k store.HistorySkips) error
}

// History WhatsApp sends once, so it is made durable before WhatsApp is
// told it arrived. whatsmeow runs with ManualHistorySyncDownload: a
// history-sync notification comes as a message (a protocol message from
// my own phone), which onHistoryNotification stores before the handler
// returns; with SynchronousAck a failed store means no ack, and WhatsApp
// delivers the notification again. runHistory then downloads each stored
// notification's blob and submits its batches, and marks it done only when
// all are accepted. A crash anywhere in between leaves the notification
// pending, and the next Run of the session resumes it; its batch IDs are
// deterministic, so batches accepted before the crash are not taken twice.

// pendingHistoryPage is how many stored notifications one pass reads.
const pendingHistoryPage = 16

func (s *Session) onHistoryNotification(ctx context.Context, info types.MessageInfo, n *waE2E.HistorySyncNotification) bool {
	b, err := proto.Marshal(n)
	if err != nil {
		// A message whatsmeow just unmarshalled always marshals.
		s.log.ErrorContext(ctx, "encode history notification", slog.String("message_id", info.ID), slog.String("error", err.Error()))
		return false
	}
	if err := s.history.SaveHistoryNotification(ctx, s.id, info.ID, b); err != nil {
		s.log.ErrorContext(ctx, "store history notification; WhatsApp will deliver it again",
			slog.String("message_id", info.ID), slog.String("error", err.Error()))
		return false
	}
	s.log.InfoContext(ctx, "history notification stored", slog.String("message_id", info.ID),
		slog.String("sync_type", n.GetSyncType().String()), slog.Int("chunk", int(n.GetChunkOrder())))
	s.kickHistory()
	return true
}

// kickHistory wakes runHistory.
func (s *Session) kickHistory() {
	select {
	case s.historyKick <- struct{}{}:
	default:
	}
}

// runHistory processes the session's stored notifications, oldest first,
// until ctx is done: at start (what a previous run left), when one is
// stored or the session connects, and after a failure with backoff. A
// notification that fails is retried before any later one, so history
// keeps WhatsApp's order (max_chats keeps the newest chats).
func (s *Session) runHistory(ctx context.Context) {
	failures := 0
	for {
		err := s.drainHistory(ctx)
		var (
			retry <-chan time.Time
			timer *time.Timer
		)
		if err != nil && ctx.Err() == nil {
			failures++
			wait := backoff(s.historyBackoff[0], s.historyBackoff[1], failures)
			s.log.WarnContext(ctx, "history notification not processed; retrying",
				slog.Duration("in", wait), slog.Int("failures", failures), slog.String("error", err.Error()))
			timer = time.NewTimer(wait)
			retry = timer.C
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
		case <-s.historyKick:
		case <-retry:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// drainHistory processes pending notifications until none is left or one
// fails (its error).
func (s *Session) drainHistory(ctx context.Context) error {
	for ctx.Err() == nil {
		pending, err := s.history.PendingHistoryNotifications(ctx, s.id, pendingHistoryPage)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		for _, hn := range pending {
			permanent, err := s.processHistoryNotification(ctx, hn)
			if ctx.Err() != nil {
				return ctx.Err() // stopped: the notification stays pending as it was
			}
			log := s.log.With(slog.Int64("notification_id", hn.ID), slog.String("message_id", hn.MessageID))
			if err != nil {
				if ferr := s.history.HistoryNotificationFailed(ctx, hn.ID, err.Error(), permanent); ferr != nil {
					log.ErrorContext(ctx, "record history notification failure", slog.String("error", ferr.Error()))
				}
				if !permanent {
					return fmt.Errorf("history notification %d: %w", hn.ID, err)
				}
				s.metrics.blobLost()
				log.ErrorContext(ctx, "history blob cannot be had; skipped", slog.String("error", err.Error()))
				continue
			}
			if err := s.history.FinishHistoryNotification(ctx, hn.ID); err != nil {
				return err // processed again later: its batches are no-ops then
			}
		}
	}
	return ctx.Err()
}

// processHistoryNotification downloads a stored notification's blob and
// submits its batches. permanent is true when the blob can never be had.
func (s *Session) processHistoryNotification(ctx context.Context, hn store.HistoryNotification) (permanent bool, err error) {
	var n waE2E.HistorySyncNotification
	if err := proto.Unmarshal(hn.Notification, &n); err != nil {
		return true, fmt.Errorf("decode stored notification: %w", err)
	}
	blob, err := s.download(ctx, &n)
	if err != nil {
		return historyBlobGone(err), err
	}
	return false, s.onHistorySync(ctx, &events.HistorySync{Data: blob})
}

// historyBlobGone tells the download errors no retry can mend: WhatsApp no
// longer has the blob, the notification has no URL, or the bytes it gave
// do not decompress or decode (they passed the media checksums, so a new
// download gives the same).
func historyBlobGone(err error) bool {
	switch {
	case errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith404), errors.Is(err, whatsmeow.ErrMediaDownloadFailedWith410),
		errors.Is(err, whatsmeow.ErrNoURLPresent):
		return true
	case strings.HasPrefix(err.Error(), "failed to download"):
		return false // network, media connection, checksums: try again
	default:
		return true // DownloadHistorySync's decompress and unmarshal errors
	}
}

// downloadHistory is whatsmeow's download of a notification's blob, with
// its storage of message secrets, LID mappings and push names done before
// it returns.
func downloadHistory(cli *whatsmeow.Client) func(context.Context, *waE2E.HistorySyncNotification) (*waHistorySync.HistorySync, error) {
	return func(ctx context.Context, n *waE2E.HistorySyncNotification) (*waHistorySync.HistorySync, error) {
		return cli.DownloadHistorySync(ctx, n, true)
	}
}
