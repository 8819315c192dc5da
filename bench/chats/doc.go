// Package chats holds the benchmarks of what web clients see (issue 4):
// ListChats pages over a million chats, and the latency from a worker's
// commit to a StreamChatUpdates client with a thousand streams open. Both
// run chatsync's real handler in a child process (this test binary re-run
// as a server), on the local PostgreSQL and Redis (DB 8) of the tests:
//
//	BENCH_CHATS=1000000 BENCH_SUBSCRIBERS=1000 go test -run '^$' -bench . -count 5 ./bench/chats
//
// Without the variables the sizes are small (100,000 chats, 100 streams) so
// a casual run stays quick. BENCHMARKS.md records the results.
package chats
