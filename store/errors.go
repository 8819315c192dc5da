package store

import (
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no such row in the caller's workspace.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is already taken.
	ErrConflict = errors.New("already exists")
	// ErrBusy: the row is in a state that refuses the change.
	ErrBusy = errors.New("busy")
)

// translate maps driver errors to the sentinels.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case isUniqueViolation(err):
		return errors.Join(ErrConflict, err)
	}
	return err
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// errUnstorable: a value neither engine can store (a NUL character, invalid
// UTF-8), found by the store before it builds any SQL. Validation refuses
// such input; this keeps a value that slipped past it to its own chat.
var errUnstorable = errors.New("value cannot be stored")

// IsDataError reports whether err is the database refusing the data itself
// (a constraint, a bad value) rather than a fault of the database (lost
// connection, timeout, deadlock): retrying the same write cannot help.
func IsDataError(err error) bool {
	if errors.Is(err, errUnstorable) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:2]
		return class == "22" || class == "23"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return true
		}
		return false
	}
	return false
}
