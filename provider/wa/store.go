package wa

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"go.mau.fi/whatsmeow/store/sqlstore"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// Dialects OpenContainer accepts: the ones chatsync's store runs on.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// OpenContainer wraps db in whatsmeow's device store and creates or upgrades
// its tables (whatsmeow_*; their version is in whatsmeow_version), so the
// devices of all sessions live in chatsync's own database. On SQLite, db
// must have foreign keys on (DSN "?_pragma=foreign_keys(1)" with
// modernc.org/sqlite); whatsmeow refuses to upgrade otherwise.
func OpenContainer(ctx context.Context, db *sql.DB, dialect string, log *slog.Logger) (*sqlstore.Container, error) {
	var wmDialect string
	switch dialect {
	case DialectPostgres:
		wmDialect = "postgres"
	case DialectSQLite:
		wmDialect = "sqlite3" // go.mau.fi/util/dbutil's name for SQLite
	default:
		// sqlstore.NewWithDB panics on a dialect it does not know.
		return nil, fmt.Errorf("open whatsmeow store: unknown dialect %q (want %q or %q)", dialect, DialectPostgres, DialectSQLite)
	}
	c := sqlstore.NewWithDB(db, wmDialect, Logger(log).Sub("store"))
	upgrade := func() error { return c.Upgrade(ctx) }
	if dialect == DialectPostgres {
		upgrade = func() error { return withAdvisoryLock(ctx, db, upgradeLockKey, func() error { return c.Upgrade(ctx) }) }
	}
	if err := upgrade(); err != nil {
		return nil, fmt.Errorf("upgrade whatsmeow store (%s): %w", dialect, err)
	}
	return c, nil
}

// upgradeLockKey is the PostgreSQL advisory lock whatsmeow's store upgrade
// runs under: a server and a worker starting at once would otherwise both
// upgrade, and one fails on the other's half-done step ("column compat of
// relation whatsmeow_version already exists").
const upgradeLockKey = 0x63686174_77_6d // "chat" "w" "m"

// withAdvisoryLock runs fn while this process holds a session advisory lock
// on one connection of db, waiting for other holders.
func withAdvisoryLock(ctx context.Context, db *sql.DB, key int64, fn func() error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) }()
	return fn()
}

// Logger adapts a *slog.Logger to whatsmeow's logger, for
// whatsmeow.NewClient and sqlstore. whatsmeow's debug output is dropped: it
// holds raw protocol nodes and QR codes, which must not reach our logs.
func Logger(log *slog.Logger) waLog.Logger { return waLogger{log: log} }

type waLogger struct {
	log    *slog.Logger
	module string // whatsmeow's sub-logger path, "Client/Socket"
}

func (l waLogger) Errorf(msg string, args ...any) { l.logf(slog.LevelError, msg, args) }
func (l waLogger) Warnf(msg string, args ...any)  { l.logf(slog.LevelWarn, msg, args) }
func (l waLogger) Infof(msg string, args ...any)  { l.logf(slog.LevelInfo, msg, args) }
func (l waLogger) Debugf(string, ...any)          {}

func (l waLogger) Sub(module string) waLog.Logger {
	if l.module != "" {
		module = l.module + "/" + module
	}
	return waLogger{log: l.log, module: module}
}

func (l waLogger) logf(level slog.Level, msg string, args []any) {
	// whatsmeow's callbacks carry no context.
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	var attrs []slog.Attr
	if l.module != "" {
		attrs = append(attrs, slog.String("module", l.module))
	}
	l.log.LogAttrs(ctx, level, fmt.Sprintf(msg, args...), attrs...) //nolint:sloglint // adapter: whatsmeow logs printf-style messages
}
