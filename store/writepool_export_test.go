package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// HasWritePool reports whether the store has a PostgreSQL write pool.
func (s *Store) HasWritePool() bool { return s.writes != nil }

// AcceptPathSetting is SHOW name on a connection of the pool the durable
// accept (acceptPG) runs on.
func (s *Store) AcceptPathSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.withPgx(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, "SHOW "+pgx.Identifier{name}.Sanitize()).Scan(&v) })
	return v, err
}

// WritePathSettings runs SHOW of each name in one pipeline of the path the
// chunks and the batch completion run on.
func (s *Store) WritePathSettings(ctx context.Context, names ...string) ([]string, error) {
	var pl pipeline
	s.beginWrite(&pl)
	out := make([]string, len(names))
	for i, n := range names {
		pl.query("show", "SHOW "+pgx.Identifier{n}.Sanitize(), func(rows pgx.Rows) error {
			_, err := pgx.ForEachRow(rows, []any{&out[i]}, func() error { return nil })
			return err
		})
	}
	return out, s.runWrite(ctx, &pl)
}

// RunWritePipeline runs statements as one pipeline of the write path.
func (s *Store) RunWritePipeline(ctx context.Context, stmts ...string) error {
	var pl pipeline
	s.beginWrite(&pl)
	for _, st := range stmts {
		pl.exec("statement", st)
	}
	return s.runWrite(ctx, &pl)
}

// WritePoolErr is the write pool's Ping error (nil without a write pool).
func (s *Store) WritePoolErr(ctx context.Context) error {
	if s.writes == nil {
		return nil
	}
	return s.writes.PingContext(ctx)
}
