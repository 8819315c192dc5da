package server

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/chatsync/chatsync"
	"github.com/chatsync/chatsync/store"
)

// internalError hides its cause from the wire (the client reads msg, or
// "internal error") but keeps it for the log line of the logging
// interceptor.
type internalError struct {
	cause error
	msg   string
}

func (e internalError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return "internal error"
}
func (e internalError) Unwrap() error { return e.cause }

// unavailable is a transient failure the client may retry: it reads msg,
// the log gets the cause (a database or Redis error, a provider's reply).
func unavailable(msg string, cause error) error {
	return connect.NewError(connect.CodeUnavailable, internalError{cause: cause, msg: msg})
}

// toConnect maps application errors to Connect codes, in one place. Details
// of internal errors stay in the log.
func toConnect(err error) error {
	var ce *connect.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	case errors.Is(err, store.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, errors.New("not found"))
	case errors.Is(err, store.ErrConflict):
		return connect.NewError(connect.CodeAlreadyExists, errors.New("already exists"))
	case errors.Is(err, store.ErrBusy):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, chatsync.ErrNotPaired), errors.Is(err, chatsync.ErrWrongProvider):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, chatsync.ErrProviderUnavailable):
		// What wraps the sentinel may be a Redis or database error: the
		// client reads a fixed message, the log the cause.
		return unavailable("the session's provider is unavailable right now; retry", err)
	}
	return connect.NewError(connect.CodeInternal, internalError{cause: err})
}

func invalidArgument(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

func notFound(what string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s not found", what))
}
