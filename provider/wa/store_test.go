package wa

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"github.com/chatsync/chatsync/store/storetest"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uptrace/bun/driver/pgdriver"
	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	_ "modernc.org/sqlite" // registers "sqlite", chatsync's embedded driver
)

// testDatabaseURL is the Postgres server tests use; the package creates its
// own database chatsync_test_wa_devices on it (chatsync_test_wa is
// storetest's).
func testDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// openPostgres returns a handle on a freshly created chatsync_test_wa_devices
// database, dropped in Cleanup. Without a server the test fails: PostgreSQL
// is required, never skipped.
func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	admin := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(testDatabaseURL())))
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.PingContext(t.Context()); err != nil {
		t.Fatalf("PostgreSQL is required (TEST_DATABASE_URL=%s): %v", testDatabaseURL(), err)
	}
	const name = "chatsync_test_wa_devices"
	mustExec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	mustExec(t, admin, "CREATE DATABASE "+name)
	u, err := url.Parse(testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	db := sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(u.String())))
	t.Cleanup(func() {
		_ = db.Close()
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// openSQLite opens a SQLite file in a test directory the way embedded mode
// does, foreign keys on.
func openSQLite(t testing.TB, pragmas string) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "chatsync.db") + pragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

const sqlitePragmas = "?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)"

// sqliteContainer is a migrated whatsmeow store on SQLite.
func sqliteContainer(t testing.TB) *sqlstore.Container {
	t.Helper()
	c, err := OpenContainer(context.Background(), openSQLite(t, sqlitePragmas), DialectSQLite, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestOpenContainer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dialect string
		open    func(t *testing.T) *sql.DB
	}{
		{DialectSQLite, func(t *testing.T) *sql.DB { return openSQLite(t, sqlitePragmas) }},
		{DialectPostgres, openPostgres},
	}
	for _, tt := range tests {
		t.Run(tt.dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := tt.open(t)
			c, err := OpenContainer(ctx, db, tt.dialect, discardLogger())
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			// A device survives a round trip, and opening again (a restart)
			// finds the schema current and the device still there.
			dev := c.NewDevice()
			jid := mustJID(t, "15559990000:7@s.whatsapp.net")
			dev.ID = &jid
			dev.PushName = "Front desk"
			dev.Account = testAccount()
			if err := dev.Save(ctx); err != nil {
				t.Fatalf("save device: %v", err)
			}
			lid, pn := mustJID(t, "999999999999999@lid"), mustJID(t, "15551230009@s.whatsapp.net")
			if err := dev.LIDs.PutLIDMapping(ctx, lid, pn); err != nil {
				t.Fatalf("put lid mapping: %v", err)
			}

			c2, err := OpenContainer(ctx, db, tt.dialect, discardLogger())
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			got, err := c2.GetDevice(ctx, jid)
			if err != nil || got == nil {
				t.Fatalf("get device: %v, %v", got, err)
			}
			if got.PushName != "Front desk" || *got.ID != jid {
				t.Errorf("device %v %q, want %v %q", got.ID, got.PushName, jid, "Front desk")
			}
			all, err := c2.GetAllDevices(ctx)
			if err != nil || len(all) != 1 {
				t.Errorf("all devices: %d, %v; want 1", len(all), err)
			}
			gotPN, err := got.LIDs.GetPNForLID(ctx, lid)
			if err != nil || gotPN != pn {
				t.Errorf("pn for lid: %v, %v; want %v", gotPN, err, pn)
			}
			if err := c2.DeleteDevice(ctx, got); err != nil {
				t.Errorf("delete device: %v", err)
			}
		})
	}
}

func TestOpenContainerErrors(t *testing.T) {
	t.Parallel()
	t.Run("unknown dialect", func(t *testing.T) {
		t.Parallel()
		_, err := OpenContainer(t.Context(), openSQLite(t, sqlitePragmas), "mysql", discardLogger())
		if err == nil || !strings.Contains(err.Error(), "unknown dialect") {
			t.Errorf("got %v, want an unknown dialect error", err)
		}
	})
	t.Run("sqlite without foreign keys", func(t *testing.T) {
		t.Parallel()
		_, err := OpenContainer(t.Context(), openSQLite(t, ""), DialectSQLite, discardLogger())
		if err == nil || !strings.Contains(err.Error(), "foreign keys") {
			t.Errorf("got %v, want whatsmeow's foreign keys error", err)
		}
	})
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	sub := log.Sub("Client").Sub("Socket")
	sub.Errorf("dial %s: %v", "web.whatsapp.com", fmt.Errorf("refused"))
	sub.Warnf("slow %d", 3)
	log.Infof("plain")
	sub.Debugf("node <message>%s</message>", "secret")
	out := buf.String()
	for _, want := range []string{
		`level=ERROR msg="dial web.whatsapp.com: refused" module=Client/Socket`,
		`level=WARN msg="slow 3" module=Client/Socket`,
		`level=INFO msg=plain`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") || strings.Contains(out, "module=\n") {
		t.Errorf("debug output reached the log:\n%s", out)
	}
	quiet := Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})))
	buf.Reset()
	quiet.Infof("dropped %s", "info")
	if buf.Len() != 0 {
		t.Errorf("info logged below the handler's level: %s", buf.String())
	}
}

// testAccount is the signed device identity pairing stores; its content
// does not matter to the store.
func testAccount() *waAdv.ADVSignedDeviceIdentity {
	return &waAdv.ADVSignedDeviceIdentity{
		Details:             []byte("details"),
		AccountSignature:    make([]byte, 64),
		AccountSignatureKey: make([]byte, 32),
		DeviceSignature:     make([]byte, 64),
	}
}

// newTestDevice is an unpaired device in a fresh SQLite store.
func newTestDevice(t testing.TB) *store.Device {
	t.Helper()
	return sqliteContainer(t).NewDevice()
}

// TestOpenContainerConcurrently: processes starting at once (a server and a
// worker) upgrade whatsmeow's store one after another, not into each other.
func TestOpenContainerConcurrently(t *testing.T) {
	t.Parallel()
	db := storetest.Postgres(t).DB().DB // a fresh schema: whatsmeow's tables are created here
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := OpenContainer(t.Context(), db, DialectPostgres, discardLogger())
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent open: %v", err)
		}
	}
}
