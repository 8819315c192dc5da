package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chatsync/chatsync/load"
)

func loadCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	p := load.DefaultParams()
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.URL, "url", p.URL, "chatsync server URL")
	fs.StringVar(&p.Token, "token", getenv("CHATSYNC_TOKEN"), "API token of the workspace to load (default $CHATSYNC_TOKEN)")
	fs.StringVar(&p.OperatorToken, "operator-token", getenv("CHATSYNC_OPERATOR_TOKEN"), "operator token, to read the queue depth from /metrics (default $CHATSYNC_OPERATOR_TOKEN)")
	stages := fs.String("stages", load.DefaultStages, "ramp stages, duration:users,… (the seed's: up to 50 users in 2m, to 100 over 5m, down in 2m)")
	fs.IntVar(&p.ChatsPerBatch, "chats", p.ChatsPerBatch, "chats per SyncBatch")
	fs.DurationVar(&p.Think, "think", p.Think, "pause between a user's SyncBatch and its ListChats")
	fs.IntVar(&p.PageSize, "page-size", p.PageSize, "ListChats page size")
	fs.DurationVar(&p.Timeout, "timeout", p.Timeout, "per call")
	fs.DurationVar(&p.DrainTimeout, "drain-timeout", p.DrainTimeout, "how long to wait for the queue to drain after the last call")
	fs.StringVar(&p.RunID, "run", p.RunID, "run ID: names the sessions, prefixes batch IDs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if p.Stages, err = load.ParseStages(*stages); err != nil {
		return err
	}
	rep, err := load.Run(ctx, p)
	if err != nil {
		return err
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	switch {
	case rep.Failed() > 0:
		return fmt.Errorf("%d calls failed", rep.Failed())
	case !rep.Drained:
		return fmt.Errorf("the queue did not drain within %s", p.DrainTimeout)
	}
	return nil
}
