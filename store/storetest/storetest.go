// Package storetest gives tests a real, migrated database: a fresh schema of
// a per-package PostgreSQL database (TEST_DATABASE_URL, default the local
// server), or a fresh SQLite file. Both drop themselves in Cleanup. There
// is no skipping: without PostgreSQL the tests fail, in CI and locally.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver

	"github.com/chatsync/chatsync/store"
)

// DefaultDatabaseURL is the local test server of DEVELOPERS.md.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DatabaseURL is TEST_DATABASE_URL or DefaultDatabaseURL.
func DatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

var (
	pkgOnce sync.Once
	pkgURL  string
	pkgErr  error
)

// PackageDatabaseURL returns the URL of this test binary's own database
// (chatsync_test_<package>), creating it on first use with pg_trgm
// installed in its public schema.
func PackageDatabaseURL(tb testing.TB) string {
	tb.Helper()
	pkgOnce.Do(func() { pkgURL, pkgErr = createPackageDB() })
	if pkgErr != nil {
		tb.Fatalf("storetest: PostgreSQL is required (TEST_DATABASE_URL=%s): %v", DatabaseURL(), pkgErr)
	}
	return pkgURL
}

var nonWord = regexp.MustCompile(`[^a-z0-9_]+`)

func createPackageDB() (string, error) {
	ctx := context.Background()
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	name = "chatsync_test_" + nonWord.ReplaceAllString(strings.ToLower(name), "_")
	admin, err := sql.Open("pgx", DatabaseURL())
	if err != nil {
		return "", err
	}
	defer admin.Close()
	var exists bool
	if err := admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil && !strings.Contains(err.Error(), "already exists") {
			return "", err
		}
	}
	u, err := url.Parse(DatabaseURL())
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		return "", err
	}
	defer db.Close()
	// Installed once in public, so concurrent per-test migrations find it.
	if _, err := db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"); err != nil {
		return "", fmt.Errorf("install pg_trgm: %w", err)
	}
	return u.String(), nil
}

// PostgresURL creates a fresh, empty schema in the package database and
// returns a URL whose search_path is that schema (then public); the schema
// is dropped in Cleanup.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	base := PackageDatabaseURL(tb)
	schema := "t_" + randomHex(6)
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a store on a fresh migrated schema.
func Postgres(tb testing.TB) *store.Store {
	tb.Helper()
	return open(tb, PostgresURL(tb))
}

// SQLite returns a store on a fresh migrated SQLite file.
func SQLite(tb testing.TB) *store.Store {
	tb.Helper()
	return open(tb, filepath.Join(tb.TempDir(), "chatsync.db"))
}

func open(tb testing.TB, dsn string) *store.Store {
	tb.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatalf("storetest: open %s: %v", redact(dsn), err)
	}
	tb.Cleanup(func() { db.Close() })
	s := store.New(db)
	if _, err := s.Migrate(ctx); err != nil {
		tb.Fatalf("storetest: migrate: %v", err)
	}
	return s
}

// Each runs fn as the subtests "postgres" and "sqlite", each on its own
// fresh store: the same suite proves both dialects.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, b := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{{"postgres", Postgres}, {"sqlite", SQLite}} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.open(t))
		})
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return dsn
}
