// Package chaos is chatsync's fault-injection suite (go test -tags chaos
// ./chaos/..., or go tool task test:chaos): it starts its own PostgreSQL and
// Redis on free ports in a temp dir and the real chatsync binary as separate
// server and worker processes, pushes history and live traffic from signed
// sidecar clients, injects one fault per case (a worker or server killed,
// Redis flushed or restarted, PostgreSQL restarted), and checks that the
// rows in PostgreSQL are exactly those of the accepted batches. See
// docs/reliability.md.
package chaos
