package store

import (
	"sync"

	"github.com/chatsync/chatsync/phone"
)

// phoneCache remembers phone.Normalize results. Normalising is regexp work
// (tens of µs a number) and a sync repeats the same people in private
// chats, groups and batches. It holds at most max entries and starts over
// when full, which keeps it simple and bounded.
type phoneCache struct {
	mu  sync.Mutex
	m   map[string]normalized
	max int
}

type normalized struct {
	e164  string
	valid bool
}

func newPhoneCache(max int) *phoneCache {
	return &phoneCache{m: make(map[string]normalized), max: max}
}

func (c *phoneCache) normalize(raw string) (string, bool) {
	c.mu.Lock()
	n, ok := c.m[raw]
	c.mu.Unlock()
	if ok {
		return n.e164, n.valid
	}
	n.e164, n.valid = phone.Normalize(raw)
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[raw] = n
	c.mu.Unlock()
	return n.e164, n.valid
}
