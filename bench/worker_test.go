package bench_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/chatsync/chatsync/events"
	"github.com/chatsync/chatsync/store"
	"github.com/chatsync/chatsync/worker"
)

// The benchmark re-runs this test binary as its worker process; these
// variables carry the worker's settings.
const (
	envWorkerDB          = "CHATSYNC_BENCH_WORKER_DB"
	envWorkerRedis       = "CHATSYNC_BENCH_WORKER_REDIS"
	envWorkerChunk       = "CHATSYNC_BENCH_WORKER_CHUNK"
	envWorkerConcurrency = "CHATSYNC_BENCH_WORKER_CONCURRENCY"
	// envWorkerProfile, when set (pass it to `go test`), is where the
	// worker writes a CPU profile of the run.
	envWorkerProfile = "BENCH_WORKER_CPUPROFILE"
)

func TestMain(m *testing.M) {
	if dsn := os.Getenv(envWorkerDB); dsn != "" {
		if err := runWorker(dsn); err != nil {
			fmt.Fprintln(os.Stderr, "bench worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runWorker is the worker process: chatsync's processor on an Asynq server,
// as `chatsync serve --role worker` runs it, until stdin closes.
func runWorker(dsn string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if path := os.Getenv(envWorkerProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv(envWorkerRedis), DB: redisDB})
	defer rdb.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	chunk, _ := strconv.Atoi(os.Getenv(envWorkerChunk))
	conc, _ := strconv.Atoi(os.Getenv(envWorkerConcurrency))
	proc, err := worker.NewProcessor(worker.Params{
		Store: store.New(db), Publisher: events.NewPublisher(rdb, events.DefaultRetention), Log: log, ChunkSize: chunk,
	})
	if err != nil {
		return err
	}
	srv := worker.NewServer(worker.ServerParams{Redis: rdb, Log: log, Concurrency: conc, BaseContext: func() context.Context { return ctx }})
	if err := srv.Start(proc.Mux()); err != nil {
		return err
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Shutdown()
	return nil
}
