// Package migrations holds chatsync's versioned, reversible SQL migrations
// for PostgreSQL and for SQLite (the embedded mode), run with bun/migrate.
// Both directories hold the same versions; only the SQL dialect differs.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun/migrate"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// For returns the migrations of a dialect: "pg" or "sqlite".
func For(dialect string) (*migrate.Migrations, error) {
	dir := map[string]string{"pg": "postgres", "sqlite": "sqlite"}[dialect]
	if dir == "" {
		return nil, fmt.Errorf("no migrations for dialect %q", dialect)
	}
	sub, err := fs.Sub(files, dir)
	if err != nil {
		return nil, err
	}
	m := migrate.NewMigrations()
	if err := m.Discover(sub); err != nil {
		return nil, fmt.Errorf("discover %s migrations: %w", dir, err)
	}
	return m, nil
}
