package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/server"
	"github.com/chatsync/chatsync/store"
)

// openStore opens (and migrates) the configured database for an operator
// command.
func openStore(ctx context.Context, getenv func(string) string, migrate bool) (*store.Store, Config, func(), error) {
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return nil, cfg, nil, err
	}
	dsn, err := cfg.databaseDSN()
	if err != nil {
		return nil, cfg, nil, err
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, cfg, nil, err
	}
	s := store.New(db)
	if migrate {
		if _, err := s.Migrate(ctx); err != nil {
			db.Close()
			return nil, cfg, nil, err
		}
	}
	return s, cfg, func() { db.Close() }, nil
}

func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: chatsync migrate up|down|status")
	}
	s, _, closeDB, err := openStore(ctx, getenv, false)
	if err != nil {
		return err
	}
	defer closeDB()
	switch args[0] {
	case "up":
		applied, err := s.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(stdout, "nothing to migrate")
		}
		for _, name := range applied {
			fmt.Fprintln(stdout, "applied", name)
		}
	case "down":
		reverted, err := s.Rollback(ctx)
		if err != nil {
			return err
		}
		if len(reverted) == 0 {
			fmt.Fprintln(stdout, "nothing to roll back")
		}
		for _, name := range reverted {
			fmt.Fprintln(stdout, "reverted", name)
		}
	case "status":
		ms, err := s.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			state := "pending"
			if m.IsApplied() {
				state = "applied " + m.MigratedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(stdout, "%-40s %s\n", m.Name, state)
		}
	default:
		return fmt.Errorf("unknown migrate command %q: want up, down or status", args[0])
	}
	return nil
}

func tokenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "revoke") {
		return errors.New("usage: chatsync token create|revoke --workspace NAME")
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	wsName := fs.String("workspace", "", "workspace name (created if missing)")
	label := fs.String("name", "cli", "a label for the token")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *wsName == "" {
		return errors.New("--workspace is required")
	}
	s, _, closeDB, err := openStore(ctx, getenv, true)
	if err != nil {
		return err
	}
	defer closeDB()
	ws, created, err := s.EnsureWorkspace(ctx, *wsName)
	if err != nil {
		return err
	}
	if args[0] == "revoke" {
		if fs.NArg() != 1 {
			return errors.New("usage: chatsync token revoke --workspace NAME TOKEN")
		}
		if err := s.RevokeToken(ctx, ws.ID, fs.Arg(0)); err != nil {
			return fmt.Errorf("revoke: %w", err)
		}
		fmt.Fprintln(stdout, "revoked")
		return nil
	}
	if created {
		fmt.Fprintf(stderr, "created workspace %q\n", *wsName)
	}
	tok := randomToken("cs_")
	if _, err := s.CreateToken(ctx, ws.ID, *label, tok); err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

func sessionCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: chatsync session create --workspace NAME --name NAME --provider webjs|whatsmeow")
	}
	fs := flag.NewFlagSet("session create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wsName := fs.String("workspace", "default", "workspace name")
	name := fs.String("name", "", "display name of the session")
	provider := fs.String("provider", "webjs", "webjs or whatsmeow (meta_cloud sessions need the API: CreateSession)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	p := chatsync.Provider(*provider)
	if *name == "" || (p != chatsync.ProviderWebJS && p != chatsync.ProviderWhatsmeow) {
		return errors.New("--name is required and --provider must be webjs or whatsmeow")
	}
	s, cfg, closeDB, err := openStore(ctx, getenv, true)
	if err != nil {
		return err
	}
	defer closeDB()
	key, err := cfg.masterKey()
	if err != nil {
		return err
	}
	keys, err := server.NewKeys(key)
	if err != nil {
		return err
	}
	ws, _, err := s.EnsureWorkspace(ctx, *wsName)
	if err != nil {
		return err
	}
	nonce := server.NewNonce()
	sess, err := s.CreateSession(ctx, store.NewSession{WorkspaceID: ws.ID, DisplayName: *name, Provider: p, SecretNonce: nonce})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "session_id=%d\nsidecar_secret=%s\n", sess.ID, keys.SidecarSecret(sess.ID, nonce))
	return nil
}

func repairCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "identities" {
		return errors.New("usage: chatsync repair identities --workspace NAME")
	}
	fs := flag.NewFlagSet("repair identities", flag.ContinueOnError)
	fs.SetOutput(stderr)
	wsName := fs.String("workspace", "", "workspace name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *wsName == "" {
		return errors.New("--workspace is required")
	}
	s, _, closeDB, err := openStore(ctx, getenv, true)
	if err != nil {
		return err
	}
	defer closeDB()
	ws, err := s.Workspace(ctx, *wsName)
	if err != nil {
		return err
	}
	rep, err := s.RepairIdentities(ctx, ws.ID)
	if err != nil {
		return err
	}
	for _, m := range rep.Merged {
		fmt.Fprintf(stdout, "merged chat %d into chat %d (session %d)\n", m.From, m.Into, m.SessionID)
	}
	fmt.Fprintf(stdout, "%d people: %d chats merged, %d renamed to the phone JID, %d group memberships moved\n",
		rep.People, len(rep.Merged), rep.Renamed, rep.Memberships)
	if len(rep.Merged) > 0 {
		fmt.Fprintln(stdout, "open web clients show the merged chats after a reload")
	}
	return nil
}
