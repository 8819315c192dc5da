package wa

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync"
)

// ErrLeaseHeld: another process owns the session's lease (it runs or pairs
// the session).
var ErrLeaseHeld = chatsync.ErrSessionBusy

// WakeChannel is the Redis channel that tells supervisors to look for work
// now rather than at their next poll (a session was paired or deleted).
const WakeChannel = "chatsync:wa:wake"

func leaseKey(sessionID int64) string {
	return "chatsync:wa:{" + strconv.FormatInt(sessionID, 10) + "}:lease"
}

// Leases are Redis leases on sessions: only the process holding a
// session's lease connects its device, so two processes never run the same
// device (WhatsApp would replace one stream with the other, back and
// forth). A lease expires unless renewed, so a crashed process's sessions
// are taken over after at most the TTL.
type Leases struct {
	rdb   redis.UniversalClient
	owner string
	ttl   time.Duration
	// renew and release act only while owner holds the lease.
	renew, release *redis.Script
}

// NewLeases returns leases held as owner (unique per process or pairing).
func NewLeases(rdb redis.UniversalClient, owner string, ttl time.Duration) *Leases {
	return &Leases{
		rdb: rdb, owner: owner, ttl: ttl,
		renew: redis.NewScript(renewScript), release: redis.NewScript(releaseScript),
	}
}

// NewOwnerID returns a random lease owner ID with a readable prefix.
func NewOwnerID(prefix string) string { return prefix + "-" + rand.Text()[:12] }

// Owner is the ID the leases are held as.
func (l *Leases) Owner() string { return l.owner }

// TTL is how long a lease lives without renewal.
func (l *Leases) TTL() time.Duration { return l.ttl }

// Acquire takes a session's lease if no one holds it (or this owner
// already does); ok reports whether it is held now.
func (l *Leases) Acquire(ctx context.Context, sessionID int64) (ok bool, err error) {
	set, err := l.rdb.SetNX(ctx, leaseKey(sessionID), l.owner, l.ttl).Result()
	if err != nil {
		return false, fmt.Errorf("acquire lease of session %d: %w", sessionID, err)
	}
	if set {
		return true, nil
	}
	return l.Renew(ctx, sessionID)
}

const renewScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`

const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

// Renew extends a lease this owner holds; false when it does not (it
// expired and another process took it).
func (l *Leases) Renew(ctx context.Context, sessionID int64) (bool, error) {
	n, err := l.renew.Run(ctx, l.rdb, []string{leaseKey(sessionID)}, l.owner, l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("renew lease of session %d: %w", sessionID, err)
	}
	return n == 1, nil
}

// Release gives a lease up, if this owner holds it.
func (l *Leases) Release(ctx context.Context, sessionID int64) error {
	if err := l.release.Run(ctx, l.rdb, []string{leaseKey(sessionID)}, l.owner).Err(); err != nil {
		return fmt.Errorf("release lease of session %d: %w", sessionID, err)
	}
	return nil
}

// keep renews a lease every third of its TTL until ctx is done. Losing it
// (it expired and another process took it, or Redis lost the key) calls
// lost, since two processes must not run one device; a Redis error is only
// logged, as the lease lives on for the rest of its TTL.
func (l *Leases) keep(ctx context.Context, sessionID int64, log *slog.Logger, lost func()) {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := l.Renew(ctx, sessionID)
		if err != nil {
			log.WarnContext(ctx, "renew lease", slog.String("error", err.Error()))
			continue
		}
		if !ok {
			log.WarnContext(ctx, "lease lost; stopping")
			lost()
			return
		}
	}
}

// Holder returns who holds a session's lease; "" when no one does.
func Holder(ctx context.Context, rdb redis.UniversalClient, sessionID int64) (string, error) {
	h, err := rdb.Get(ctx, leaseKey(sessionID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("lease holder of session %d: %w", sessionID, err)
	}
	return h, nil
}

// Wake tells every supervisor to look for work now.
func Wake(ctx context.Context, rdb redis.UniversalClient) error {
	if err := rdb.Publish(ctx, WakeChannel, "1").Err(); err != nil {
		return fmt.Errorf("wake supervisors: %w", err)
	}
	return nil
}
