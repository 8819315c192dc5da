// Package bench holds chatsync's end-to-end benchmarks. They need the local
// PostgreSQL and Redis of the tests (TEST_DATABASE_URL, TEST_REDIS_ADDR; Redis
// DB 7 is flushed) and run a real server in-process and the worker as a
// child process (this test binary again), so the worker's peak RSS is its
// own:
//
//	go test -run '^$' -bench Ingest -count 5 ./bench/...
//
// BenchmarkIngest pushes the workload (20,000 chats, 4:1 private to
// group, one message each, groups of five, batches of 50 from four signed
// callers, by the simulate package) and, in the same iteration, writes the
// same rows with plain batched INSERT … ON CONFLICT through pgx (the
// ceiling). BenchmarkWriteChunk measures the store's write path alone.
// BENCHMARKS.md at the repository root records the results.
//
// Knobs for exploring, not for the recorded runs: BENCH_CHATS (workload
// size), BENCH_CHUNK (one chunk size instead of 10 and 50),
// BENCH_CONCURRENCY (worker tasks in flight, default 8), BENCH_WRITERS
// (BenchmarkWriteChunk's connections), BENCH_NO_CEILING=1,
// BENCH_TABLESTATS=1 (per-table scan counts), BENCH_TIMEOUT_S, and
// BENCH_WORKER_CPUPROFILE=<file> (a CPU profile of the worker process).
package bench
