package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The write pool. The worker's chunk transactions and a batch's completion
// run with synchronous_commit off, enable_seqscan off and plan_cache_mode
// force_generic_plan (see the notes at the top of ingest_pg.go and
// docs/decisions.md #6). Set at the start of every transaction, those
// settings were one more statement per chunk; as defaults of the shared
// pool's connections they would also make the durable accept (and every
// other write) commit asynchronously. So Open gives PostgreSQL stores a
// second, small pool whose connections carry them as session settings
// (sent in the startup packet), used for those writes alone; everything
// else, the accept included, stays on the main pool with PostgreSQL's
// defaults.
//
// The write pool lives and dies with the main one: the main pool's
// connector owns it (database/sql closes a connector that is an io.Closer
// when the DB closes), and New finds it through the connector's driver.

// writeParams are the write pool's session settings.
var writeParams = map[string]string{
	"synchronous_commit": "off",
	"enable_seqscan":     "off",
	"plan_cache_mode":    "force_generic_plan",
}

// writePoolSize bounds the write pool: a worker runs 16 tasks at most by
// default, one chunk each at a time.
const writePoolSize = 16

// openPostgres opens the main pool of dsn, owning its write pool.
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	wcfg := cfg.Copy()
	if wcfg.RuntimeParams == nil {
		wcfg.RuntimeParams = map[string]string{}
	}
	for k, v := range writeParams {
		wcfg.RuntimeParams[k] = v
	}
	writes := sql.OpenDB(stdlib.GetConnector(*wcfg))
	writes.SetMaxOpenConns(writePoolSize)
	writes.SetMaxIdleConns(writePoolSize)
	writes.SetConnMaxIdleTime(5 * time.Minute)
	main := stdlib.GetConnector(*cfg)
	return sql.OpenDB(&mainConnector{Connector: main, drv: &writesDriver{Driver: main.Driver(), writes: writes}}), nil
}

// mainConnector is the main pool's connector: it closes the write pool
// when the main pool closes.
type mainConnector struct {
	driver.Connector
	drv *writesDriver
}

func (c *mainConnector) Driver() driver.Driver { return c.drv }

func (c *mainConnector) Close() error {
	var err error
	if cl, ok := c.Connector.(interface{ Close() error }); ok {
		err = cl.Close()
	}
	return errors.Join(err, c.drv.writes.Close())
}

// writesDriver is the main pool's driver, carrying the write pool.
type writesDriver struct {
	driver.Driver
	writes *sql.DB
}

// writePool returns the write pool of a main pool opened by Open, or nil.
func writePool(db *sql.DB) *sql.DB {
	if d, ok := db.Driver().(*writesDriver); ok {
		return d.writes
	}
	return nil
}
