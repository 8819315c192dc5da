package store

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun/migrate"

	"github.com/chatsync/chatsync/migrations"
)

// Migrator returns bun's migrator over the store's dialect's migrations.
func (s *Store) Migrator() (*migrate.Migrator, error) {
	name := "sqlite"
	if s.pg {
		name = "pg"
	}
	ms, err := migrations.For(name)
	if err != nil {
		return nil, err
	}
	return migrate.NewMigrator(s.db, ms), nil
}

// Migrate applies every pending migration under the migration lock. Several
// processes starting at once wait for each other rather than fail.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	m, err := s.Migrator()
	if err != nil {
		return nil, err
	}
	err = s.locked(ctx, m, func() error {
		g, err := m.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, mg := range g.Migrations {
			applied = append(applied, mg.Name)
		}
		return nil
	})
	return applied, err
}

// Rollback reverts the last group of migrations.
func (s *Store) Rollback(ctx context.Context) (reverted []string, err error) {
	m, err := s.Migrator()
	if err != nil {
		return nil, err
	}
	err = s.locked(ctx, m, func() error {
		g, err := m.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("rollback: %w", err)
		}
		for _, mg := range g.Migrations {
			reverted = append(reverted, mg.Name)
		}
		return nil
	})
	return reverted, err
}

// MigrationStatus lists every migration and whether it is applied.
func (s *Store) MigrationStatus(ctx context.Context) (migrate.MigrationSlice, error) {
	m, err := s.Migrator()
	if err != nil {
		return nil, err
	}
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("init migration tables: %w", err)
	}
	return m.MigrationsWithStatus(ctx)
}

func (s *Store) locked(ctx context.Context, m *migrate.Migrator, fn func() error) error {
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migration tables: %w", err)
	}
	// bun's lock is a row insert that fails while another process holds it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (delete the row of bun_migration_locks if no migration runs)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer func() { _ = m.Unlock(context.WithoutCancel(ctx)) }()
	return fn()
}
