// Package events carries chatsync's realtime events through Redis. Each
// workspace has a bounded Redis stream, the durable record a reconnecting
// client resumes from, and a pub/sub channel that wakes every server
// replica. A Lua script appends to the stream and publishes in one atomic
// step, so pub/sub order is stream order and each event's ID is its stream
// entry ID.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
)

// DefaultRetention is how many events a workspace's stream keeps for resume.
const DefaultRetention = 10000

// ErrTooOld means a resume token cannot resume without a possible gap: it
// is older than the retained events, or the stream it came from is gone
// (Redis restarted or was flushed). The client must reload.
var ErrTooOld = errors.New("resume token is older than the retained events")

// ErrBadToken means a resume token is not an event ID.
var ErrBadToken = errors.New("resume token is not an event ID")

func streamKey(ws int64) string  { return "chatsync:events:{" + strconv.FormatInt(ws, 10) + "}" }
func channelKey(ws int64) string { return "chatsync:events:{" + strconv.FormatInt(ws, 10) + "}:live" }

// publishScript appends each of ARGV[2..] to the stream KEYS[1] (trimmed
// to about ARGV[1] entries) and publishes "<id> <json>" on KEYS[2], in
// order; it returns the entry IDs. One call carries many events: a Lua
// call per event cost Redis more than the XADD and PUBLISH it ran.
var publishScript = redis.NewScript(`
local ids = {}
for i = 2, #ARGV do
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i])
  redis.call('PUBLISH', KEYS[2], id .. ' ' .. ARGV[i])
  ids[i - 1] = id
end
return ids
`)

// maxPerCall bounds the events of one script call, and so how long it
// holds Redis (a script runs alone).
const maxPerCall = 256

// Publisher publishes events after the changes they describe committed.
type Publisher struct {
	rdb       redis.UniversalClient
	retention int64
}

// NewPublisher returns a publisher keeping retention events per workspace.
func NewPublisher(rdb redis.UniversalClient, retention int64) *Publisher {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &Publisher{rdb: rdb, retention: retention}
}

// Publish appends events in one pipelined round trip and returns their IDs.
// Consecutive events of one workspace go in one script call (up to
// maxPerCall), so each workspace's stream and channel keep the events'
// order.
func (p *Publisher) Publish(ctx context.Context, evs ...chatsync.Event) ([]string, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	// EVAL rather than SCRIPT LOAD + EVALSHA: loading first cost a round
	// trip of its own on every call, and EVALSHA alone fails with
	// NOSCRIPT after a Redis restart. Redis caches the script by its hash.
	pipe := p.rdb.Pipeline()
	type call struct {
		cmd   *redis.Cmd
		first int // index in evs of the call's first event
		n     int
	}
	var calls []call
	for start := 0; start < len(evs); {
		ws := evs[start].WorkspaceID
		args := []any{p.retention}
		end := start
		for end < len(evs) && evs[end].WorkspaceID == ws && end-start < maxPerCall {
			b, err := json.Marshal(evs[end])
			if err != nil {
				return nil, fmt.Errorf("encode %s event: %w", evs[end].Type, err)
			}
			args = append(args, b)
			end++
		}
		cmd := publishScript.Eval(ctx, pipe, []string{streamKey(ws), channelKey(ws)}, args...)
		calls = append(calls, call{cmd: cmd, first: start, n: end - start})
		start = end
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("publish %d events: %w", len(evs), err)
	}
	ids := make([]string, len(evs))
	for _, c := range calls {
		got, err := c.cmd.StringSlice()
		if err != nil || len(got) != c.n {
			return nil, fmt.Errorf("publish %d events: script returned %d IDs: %v", c.n, len(got), err)
		}
		copy(ids[c.first:], got)
	}
	return ids, nil
}

// streamID is a parsed Redis stream entry ID, "<ms>-<seq>".
type streamID struct{ ms, seq uint64 }

func parseID(s string) (streamID, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, ErrBadToken
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, ErrBadToken
	}
	return streamID{ms, seq}, nil
}

func (a streamID) less(b streamID) bool {
	return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq)
}

func decode(id, payload string) (chatsync.Event, error) {
	var ev chatsync.Event
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return ev, fmt.Errorf("decode event %s: %w", id, err)
	}
	ev.ID = id
	return ev, nil
}
