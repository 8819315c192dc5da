package server

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"connectrpc.com/connect"
	"github.com/go-redis/redis_rate/v10"
)

// rateLimiter is a GCRA limiter in Redis (go-redis/redis_rate), shared by
// every server replica.
type rateLimiter struct {
	limiter *redis_rate.Limiter
}

// allowSync counts one SyncBatch call of a session against perMinute, and
// refuses it with resource_exhausted, a retry-after header and the seconds
// in the message when over the limit. The header is the error's metadata:
// connect-go sends it as a response header (Connect) or in the header block
// of the trailers-only answer (gRPC). Live batches have their own budget
// (key and limit), so a history sync that uses up its budget never holds
// back a new message.
func (r *rateLimiter) allowSync(ctx context.Context, sessionID int64, live bool, perMinute int) error {
	key, what := "chatsync:rate:sync:", "SyncBatch calls"
	if live {
		key, what = "chatsync:rate:sync-live:", "live SyncBatch calls"
	}
	res, err := r.limiter.Allow(ctx, key+strconv.FormatInt(sessionID, 10), redis_rate.PerMinute(perMinute))
	if err != nil {
		return unavailable("the rate limiter is unavailable right now; retry", fmt.Errorf("rate limiter: %w", err))
	}
	if res.Allowed > 0 {
		return nil
	}
	secs := int(math.Ceil(res.RetryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	e := connect.NewError(connect.CodeResourceExhausted,
		fmt.Errorf("rate limit of %d %s per minute for session %d exceeded; retry after %d s", perMinute, what, sessionID, secs))
	e.Meta().Set("retry-after", strconv.Itoa(secs))
	return e
}
