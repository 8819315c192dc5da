// Package store keeps chatsync's data in PostgreSQL (production) or SQLite
// (the embedded mode) through Bun. Queries run only here; callers get domain
// types from package chatsync and the sentinel errors of errors.go.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

// Store runs chatsync's queries.
type Store struct {
	db     *bun.DB
	now    func() time.Time
	pg     bool
	phones *phoneCache
	// writes is the PostgreSQL write pool (writepool.go); nil when db was
	// not opened by Open, and the writes then set their settings per
	// transaction on the main pool.
	writes *sql.DB
}

// New wraps an open database.
func New(db *bun.DB) *Store {
	return &Store{
		db:  db,
		now: func() time.Time { return time.Now().UTC() },
		pg:  db.Dialect().Name() == dialect.PG,
		// About 6 MB at most: a few large syncs' worth of people.
		phones: newPhoneCache(50000),
		writes: writePool(db.DB),
	}
}

// DB returns the underlying database, for wiring (whatsmeow's device store
// shares it) and tests.
func (s *Store) DB() *bun.DB { return s.db }

// Postgres reports whether the store runs on PostgreSQL (else SQLite).
func (s *Store) Postgres() bool { return s.pg }

// Open connects to dsn: a postgres:// URL, or a SQLite file path (created
// with its directory when missing). SQLite gets WAL, foreign keys and a busy
// timeout, and one connection, since SQLite takes one writer at a time.
func Open(ctx context.Context, dsn string) (*bun.DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sqldb, err := openPostgres(dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sqldb.SetMaxOpenConns(32)
		sqldb.SetMaxIdleConns(32)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		db := bun.NewDB(sqldb, pgdialect.New())
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("connect to postgres: %w", err)
		}
		return db, nil
	}
	if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	sqldb, err := sql.Open(sqliteshim.ShimName, SQLiteDSN(dsn))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
	}
	sqldb.SetMaxOpenConns(1)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
	}
	return db, nil
}

// SQLiteDSN is the connection string chatsync uses for a SQLite file.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
}

// greatest is the two-argument maximum of the dialect.
func (s *Store) greatest() string {
	if s.pg {
		return "GREATEST"
	}
	return "max"
}
