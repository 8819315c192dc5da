import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import type { FullConfig } from "@playwright/test";
import { resultsDir, screenshotDir } from "./support/app";

// Starts the real server for the suite: a fresh PostgreSQL database
// (chatsync_e2e, dropped and created again every run), Redis DB 9 (flushed),
// `chatsync serve` on a port the kernel picks, built with -tags e2e by
// `go tool task test:e2e`. The returned function is the global teardown.

const here = import.meta.dirname;

const bin = process.env.CHATSYNC_E2E_BIN || resolve(here, "../../tmp/e2e/chatsync");
// The same services as the Go tests (README): TEST_DATABASE_URL names the
// server (its database is replaced), TEST_REDIS_ADDR the Redis.
const pgBase = new URL(process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable");
const dbName = "chatsync_e2e";
const redisAddr = process.env.TEST_REDIS_ADDR || "127.0.0.1:6379";
const redisDB = "9";

function databaseURL(name: string): string {
  const u = new URL(pgBase);
  u.pathname = `/${name}`;
  if (!u.searchParams.has("sslmode")) u.searchParams.set("sslmode", "disable");
  return u.toString();
}

function freshDatabase(): void {
  const admin = databaseURL(pgBase.pathname.slice(1) || "postgres");
  const psql = (sql: string) =>
    execFileSync("psql", [admin, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, PGOPTIONS: "--client-min-messages=warning" },
    });
  psql(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  psql(`CREATE DATABASE ${dbName}`);
}

function flushRedis(): void {
  const [host, port] = redisAddr.split(":");
  const out = execFileSync("redis-cli", ["-h", host, "-p", port || "6379", "-n", redisDB, "FLUSHDB"], { encoding: "utf8" });
  if (out.trim() !== "OK") throw new Error(`redis-cli FLUSHDB answered ${out.trim()}`);
}

// Resolves with the URL the server prints ("chatsync is running at …").
function startServer(env: NodeJS.ProcessEnv, logPath: string): Promise<{ child: ChildProcess; url: string }> {
  const log = createWriteStream(logPath);
  const child = spawn(bin, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
  child.stderr!.pipe(log);
  return new Promise((ok, fail) => {
    let buf = "";
    const timer = setTimeout(() => fail(new Error(`chatsync did not print its URL within 30 s; see ${logPath}`)), 30_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      fail(new Error(`start ${bin}: ${e.message} (build it with go tool task test:e2e)`));
    });
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      fail(new Error(`chatsync exited early (code ${code}, signal ${sig}); see ${logPath}`));
    });
    child.stdout!.on("data", (b: Buffer) => {
      log.write(b);
      buf += b.toString();
      const m = /chatsync is running at (http:\/\/\S+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        ok({ child, url: m[1] });
      }
    });
  });
}

// Polls gRPC health (Connect protocol, JSON) until SERVING.
async function waitHealthy(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      const body = (await res.json()) as { status?: string };
      if (res.ok && body.status === "SERVING_STATUS_SERVING") return;
      last = `${res.status} ${JSON.stringify(body)}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`chatsync at ${url} not healthy within 30 s: ${last}`);
}

export default async function globalSetup(_config: FullConfig): Promise<() => Promise<void>> {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run go tool task test:e2e (it builds the binary with -tags e2e)`);
  mkdirSync(resultsDir, { recursive: true });
  rmSync(screenshotDir, { recursive: true, force: true });
  mkdirSync(screenshotDir, { recursive: true });
  freshDatabase();
  flushRedis();

  const token = `cs_e2e_${randomBytes(18).toString("base64url")}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    CHATSYNC_HTTP_ADDR: "127.0.0.1:0",
    DATABASE_URL: databaseURL(dbName),
    REDIS_URL: `redis://${redisAddr}/${redisDB}`,
    CHATSYNC_SECRET_KEY: randomBytes(32).toString("hex"),
    CHATSYNC_BOOTSTRAP_TOKEN: token,
    CHATSYNC_OPERATOR_TOKEN: `op_e2e_${randomBytes(18).toString("base64url")}`,
    // The specs push a few dozen batches per session in a minute at most;
    // the limit itself has its own Go tests.
    CHATSYNC_SYNC_RATE_PER_MINUTE: "600",
    CHATSYNC_LOG_FORMAT: "json",
    CHATSYNC_LOG_LEVEL: process.env.CHATSYNC_E2E_LOG_LEVEL || "info",
  };
  const logPath = resolve(resultsDir, "server.log");
  const { child, url } = await startServer(env, logPath);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitHealthy(url);
  } catch (e) {
    await stop();
    throw e;
  }
  // Workers inherit the environment the global setup leaves.
  process.env.CHATSYNC_E2E_URL = url;
  process.env.CHATSYNC_E2E_TOKEN = token;
  console.log(`e2e: chatsync at ${url} on ${dbName} and Redis DB ${redisDB}; server log ${logPath}`);
  return async () => {
    await stop();
    console.log(`e2e: chatsync stopped (exit ${child.exitCode ?? child.signalCode})`);
  };
}
