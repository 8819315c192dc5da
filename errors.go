package chatsync

import "errors"

// Errors callers branch on. The server maps them to Connect codes in one
// place (server/errors.go).
var (
	// ErrNotPaired: the session has no WhatsApp device linked yet.
	ErrNotPaired = errors.New("session is not paired")
	// ErrProviderUnavailable: the provider of a session is down.
	ErrProviderUnavailable = errors.New("provider unavailable")
	// ErrPhoneOnly: Meta's Cloud API sends to phone numbers, not to groups
	// or LIDs.
	ErrPhoneOnly = errors.New("only phone numbers are reachable through Meta's Cloud API")
	// ErrWrongProvider: the operation does not apply to the session's provider.
	ErrWrongProvider = errors.New("operation not supported by the session's provider")
)
