package client

import "errors"

// ErrUnauthenticated is wrapped into the error of a call the server refused
// as unauthenticated: the session ID or its sidecar secret is wrong (or the
// secret was rotated), or the clocks are more than 300 s apart. Retrying
// cannot help.
var ErrUnauthenticated = errors.New("secret is wrong: the server refused the signature")
