package wa

import (
	"errors"

	"github.com/chatsync/chatsync"
)

// Errors callers branch on.
var (
	// ErrNothingToSync: the event carries nothing chatsync stores
	// (reactions, protocol messages, status broadcasts, newsletters, group
	// settings changes). The translation functions return it.
	ErrNothingToSync = errors.New("nothing to sync")
	// ErrAlreadyPaired: Pair was called for a session whose device store
	// already holds a linked device.
	ErrAlreadyPaired = chatsync.ErrAlreadyPaired
)

// ErrNotPaired: the session has no linked device.
var ErrNotPaired = errors.New("session is not paired")
