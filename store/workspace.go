package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/chatsync/chatsync"
)

// HashToken is how API tokens are stored: SHA-256 of the token. Tokens are
// 256-bit random strings (`chatsync token create`), so a fast unsalted hash
// is enough: nobody can search a 2^256 space, which is what salts and slow
// KDFs defend low-entropy passwords against, and an unsalted hash is what
// lets a request's token be found by an indexed lookup of its hash. The
// plain token is never stored, and a database dump yields no usable token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// EnsureWorkspace returns the workspace named name, creating it when missing.
func (s *Store) EnsureWorkspace(ctx context.Context, name string) (ws chatsync.Workspace, created bool, err error) {
	row := workspaceRow{Name: name, CreatedAt: s.now()}
	res, err := s.db.NewInsert().Model(&row).On("CONFLICT (name) DO NOTHING").Returning("id").Exec(ctx)
	if err != nil {
		return ws, false, fmt.Errorf("insert workspace %q: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return chatsync.Workspace{ID: row.ID, Name: name, CreatedAt: row.CreatedAt}, true, nil
	}
	if err := s.db.NewSelect().Model(&row).Where("name = ?", name).Scan(ctx); err != nil {
		return ws, false, fmt.Errorf("load workspace %q: %w", name, translate(err))
	}
	return chatsync.Workspace{ID: row.ID, Name: row.Name, CreatedAt: row.CreatedAt.UTC()}, false, nil
}

// CountTokens counts a workspace's live tokens.
func (s *Store) CountTokens(ctx context.Context, workspaceID int64) (int64, error) {
	n, err := s.db.NewSelect().Model((*tokenRow)(nil)).
		Where("workspace_id = ? AND revoked_at IS NULL", workspaceID).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// CreateToken stores the hash of a new API token of a workspace.
func (s *Store) CreateToken(ctx context.Context, workspaceID int64, name, token string) (int64, error) {
	row := tokenRow{WorkspaceID: workspaceID, Name: name, TokenHash: HashToken(token), CreatedAt: s.now()}
	if _, err := s.db.NewInsert().Model(&row).Returning("id").Exec(ctx); err != nil {
		return 0, fmt.Errorf("insert token: %w", translate(err))
	}
	return row.ID, nil
}

// WorkspaceForToken resolves an API token to its workspace ID; revoked and
// unknown tokens are ErrNotFound.
func (s *Store) WorkspaceForToken(ctx context.Context, token string) (int64, error) {
	var wsID int64
	err := s.db.NewSelect().Model((*tokenRow)(nil)).Column("workspace_id").
		Where("token_hash = ? AND revoked_at IS NULL", HashToken(token)).Limit(1).Scan(ctx, &wsID)
	if err != nil {
		return 0, translate(err)
	}
	return wsID, nil
}

// RevokeToken revokes a token (given in full) of a workspace.
func (s *Store) RevokeToken(ctx context.Context, workspaceID int64, token string) error {
	res, err := s.db.NewUpdate().Model((*tokenRow)(nil)).Set("revoked_at = ?", s.now()).
		Where("workspace_id = ? AND token_hash = ? AND revoked_at IS NULL", workspaceID, HashToken(token)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errors.Join(ErrNotFound, errors.New("no live token matches"))
	}
	return nil
}

// Workspace returns the workspace named name; ErrNotFound when there is
// none.
func (s *Store) Workspace(ctx context.Context, name string) (chatsync.Workspace, error) {
	var row workspaceRow
	if err := s.db.NewSelect().Model(&row).Where("name = ?", name).Scan(ctx); err != nil {
		return chatsync.Workspace{}, fmt.Errorf("load workspace %q: %w", name, translate(err))
	}
	return chatsync.Workspace{ID: row.ID, Name: row.Name, CreatedAt: row.CreatedAt.UTC()}, nil
}
