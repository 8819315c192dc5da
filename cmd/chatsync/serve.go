package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/chatsync/chatsync/provider/wa"
)

func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := configFromEnv(getenv)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", cfg.Role, "which parts to run: all, server or worker")
	addr := fs.String("addr", cfg.HTTPAddr, "listen address (CHATSYNC_HTTP_ADDR)")
	if perr := fs.Parse(args); perr != nil {
		return perr
	}
	if err != nil {
		return err
	}
	cfg.Role, cfg.HTTPAddr = *role, *addr
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	// Once per process, before any whatsmeow client runs (see
	// wa.SetupSignalLogger).
	wa.SetupSignalLogger(log)
	m := NewMain(cfg, log)
	defer func() {
		if err := m.Close(); err != nil {
			log.ErrorContext(ctx, "shutdown", slog.String("error", err.Error()))
		}
	}()
	if err := m.Open(ctx); err != nil {
		return err
	}
	token, err := m.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap default workspace: %w", err)
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	printBanner(stdout, cfg, m, token)
	log.InfoContext(ctx, "chatsync started", slog.String("role", cfg.Role), slog.String("url", m.URL()), slog.Bool("embedded", cfg.Embedded()))
	<-ctx.Done()
	log.InfoContext(ctx, "shutting down")
	return nil
}

func printBanner(w io.Writer, cfg Config, m *Main, token string) {
	if url := m.URL(); url != "" {
		fmt.Fprintf(w, "chatsync is running at %s (role %s)\n", url, cfg.Role)
		fmt.Fprintf(w, "  web UI:       %s/\n  grpcurl:      grpcurl -plaintext %s list\n", url, m.listener.Addr())
	} else {
		fmt.Fprintf(w, "chatsync worker is running\n")
	}
	if cfg.Embedded() {
		abs, _ := filepath.Abs(cfg.DataDir)
		fmt.Fprintf(w, "  mode:         embedded (SQLite in %s, in-process Redis)\n", abs)
	}
	if token != "" {
		fmt.Fprintf(w, "  API token of workspace \"default\" (shown once, keep it): %s\n", token)
	} else if m.URL() != "" {
		fmt.Fprintf(w, "  API token:    the one printed on first start, or: chatsync token create --workspace default\n")
	}
	if m.OperatorToken != "" && cfg.OperatorToken == "" && m.URL() != "" {
		fmt.Fprintf(w, "  operator token for %s/asynq/ and /metrics (this run only): %s\n", m.URL(), m.OperatorToken)
	}
}
