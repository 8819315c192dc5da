package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/chatsync/chatsync/client"
	"github.com/chatsync/chatsync/simulate"
)

func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p := simulate.DefaultParams()
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.URL, "url", p.URL, "chatsync server URL")
	fs.StringVar(&p.SessionID, "session", "", "session ID to push for (required)")
	fs.StringVar(&p.Secret, "secret", "", "the session's sidecar secret (required)")
	proto := fs.String("protocol", p.Protocol.String(), "connect, json or grpc")
	fs.IntVar(&p.Chats, "chats", p.Chats, "chats in the history phase")
	fs.IntVar(&p.Messages, "messages", p.Messages, "messages per chat")
	fs.IntVar(&p.GroupEvery, "group-every", p.GroupEvery, "every n-th chat is a group (5: 4 private to 1 group; 0: none)")
	fs.IntVar(&p.Participants, "participants", p.Participants, "members per group")
	fs.IntVar(&p.BatchSize, "batch", p.BatchSize, "chats per SyncBatch call")
	fs.IntVar(&p.Concurrency, "concurrency", p.Concurrency, "calls in flight")
	fs.IntVar(&p.LiveMessages, "live", p.LiveMessages, "live messages after the history (0: none), coalesced and retried until accepted")
	fs.Float64Var(&p.LiveRate, "live-rate", p.LiveRate, "live messages per second")
	fs.BoolVar(&p.LiveDuringHistory, "live-during-history", p.LiveDuringHistory, "send the live messages while the history syncs")
	fs.DurationVar(&p.LiveFlush, "live-flush", client.DefaultFlushInterval, "live batches: flush interval")
	fs.IntVar(&p.LiveFlushMessages, "live-flush-messages", client.DefaultFlushMessages, "live batches: messages per batch at most")
	fs.StringVar(&p.RunID, "run", p.RunID, "run ID, prefixes batch IDs (same run and seed resend the same batches)")
	fs.Int64Var(&p.Seed, "seed", p.Seed, "content seed")
	quiet := fs.Bool("quiet", false, "no progress bar")
	err := fs.Parse(args)
	if err != nil {
		return err
	}
	if p.SessionID == "" || p.Secret == "" {
		return fmt.Errorf("--session and --secret are required (chatsync session create prints both)")
	}
	if p.Protocol, err = client.ParseProtocol(*proto); err != nil {
		return err
	}
	if !*quiet {
		p.Progress = simulate.ProgressBar(stderr, 40)
	}
	sum, err := simulate.Run(ctx, p)
	if err != nil {
		return err
	}
	if err := sum.WriteText(stdout); err != nil {
		return err
	}
	if sum.FailedBatches > 0 {
		return fmt.Errorf("%d batches failed", sum.FailedBatches)
	}
	return nil
}
