package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// CommandKind is what a sidecar command asks for.
type CommandKind string

// Command kinds (sidecar_commands.kind).
const (
	CommandResync CommandKind = "resync"
	CommandSend   CommandKind = "send"
)

// CommandStatus is the state of a sidecar command.
type CommandStatus string

// Command statuses (sidecar_commands.status).
const (
	CommandOpen   CommandStatus = "open"
	CommandDone   CommandStatus = "done"
	CommandFailed CommandStatus = "failed"
)

// Command is work chatsync asks a sidecar session to do: a row of
// sidecar_commands. Open commands are delivered to every WatchCommands
// stream of the session until one completes them.
type Command struct {
	ID          int64
	WorkspaceID int64
	SessionID   int64
	Kind        CommandKind
	ChatJID     string
	Text        string
	Status      CommandStatus
	Error       string
	MessageID   string
	CreatedAt   time.Time
	CompletedAt time.Time
}

// NewCommand is a command to issue.
type NewCommand struct {
	WorkspaceID int64
	SessionID   int64
	Kind        CommandKind
	ChatJID     string
	Text        string
}

// CreateCommand issues a command, open.
func (s *Store) CreateCommand(ctx context.Context, nc NewCommand) (Command, error) {
	row := commandRow{
		WorkspaceID: nc.WorkspaceID, SessionID: nc.SessionID, Kind: string(nc.Kind), ChatJID: nc.ChatJID,
		Text: nc.Text, Status: string(CommandOpen), CreatedAt: s.now(),
	}
	if _, err := s.db.NewInsert().Model(&row).Returning("id").Exec(ctx); err != nil {
		return Command{}, fmt.Errorf("insert %s command: %w", nc.Kind, translate(err))
	}
	return row.domain(), nil
}

// OpenCommands lists a session's open commands with IDs above afterID,
// oldest first, at most limit.
func (s *Store) OpenCommands(ctx context.Context, sessionID, afterID int64, limit int) ([]Command, error) {
	var rows []commandRow
	err := s.db.NewSelect().Model(&rows).
		Where("session_id = ? AND status = ? AND id > ?", sessionID, string(CommandOpen), afterID).
		Order("id ASC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list open commands of session %d: %w", sessionID, err)
	}
	out := make([]Command, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out, nil
}

// Command returns a command of a session.
func (s *Store) Command(ctx context.Context, sessionID, id int64) (Command, error) {
	var row commandRow
	if err := s.db.NewSelect().Model(&row).Where("id = ? AND session_id = ?", id, sessionID).Scan(ctx); err != nil {
		return Command{}, fmt.Errorf("load command %d: %w", id, translate(err))
	}
	return row.domain(), nil
}

// CompleteCommand closes an open command of a session: done when errMsg is
// empty, else failed. Completing a command that is already closed changes
// nothing and returns it with ErrBusy; an unknown one is ErrNotFound.
func (s *Store) CompleteCommand(ctx context.Context, sessionID, id int64, errMsg, messageID string) (Command, error) {
	status := CommandDone
	if errMsg != "" {
		status = CommandFailed
	}
	var row commandRow
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*commandRow)(nil)).
			Set("status = ?, error = ?, message_id = ?, completed_at = ?", string(status), errMsg, messageID, s.now()).
			Where("id = ? AND session_id = ? AND status = ?", id, sessionID, string(CommandOpen)).Exec(ctx)
		if err != nil {
			return err
		}
		if err := tx.NewSelect().Model(&row).Where("id = ? AND session_id = ?", id, sessionID).Scan(ctx); err != nil {
			return translate(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: command is already %s", ErrBusy, row.Status)
		}
		return nil
	})
	if err != nil {
		return row.domain(), fmt.Errorf("complete command %d: %w", id, err)
	}
	return row.domain(), nil
}

func (r *commandRow) domain() Command {
	return Command{
		ID: r.ID, WorkspaceID: r.WorkspaceID, SessionID: r.SessionID, Kind: CommandKind(r.Kind), ChatJID: r.ChatJID,
		Text: r.Text, Status: CommandStatus(r.Status), Error: r.Error, MessageID: r.MessageID,
		CreatedAt: r.CreatedAt.UTC(), CompletedAt: derefTime(r.CompletedAt),
	}
}
