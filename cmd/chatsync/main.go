// Command chatsync is the one chatsync binary: `serve` runs the server and
// the worker (embedded on SQLite and an in-process Redis with no
// configuration, or on PostgreSQL and Redis in production), and the other
// commands are operator tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `chatsync keeps the WhatsApp chats of many workspaces in PostgreSQL and serves them live.

Usage:
  chatsync serve [--role all|server|worker] [--addr host:port]
  chatsync migrate up|down|status
  chatsync token create --workspace NAME [--name LABEL]
  chatsync token revoke --workspace NAME TOKEN
  chatsync session create --workspace NAME --name NAME --provider webjs|whatsmeow
  chatsync simulate [flags]   (chatsync simulate -h lists them)
  chatsync load [flags]       (replays the seed's load scenario; chatsync load -h lists the flags)
  chatsync repair identities --workspace NAME   (merge chats split across LID and phone JID)

Configuration comes from the environment; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "chatsync:", err)
		}
		os.Exit(1)
	}
}

// run executes one command; it is main without the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCmd(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, rest, getenv, stdout)
	case "token":
		return tokenCmd(ctx, rest, getenv, stdout, stderr)
	case "session":
		return sessionCmd(ctx, rest, getenv, stdout, stderr)
	case "simulate":
		return simulateCmd(ctx, rest, stdout, stderr)
	case "load":
		return loadCmd(ctx, rest, getenv, stdout, stderr)
	case "repair":
		return repairCmd(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
