import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, loadConfig } from "../src/config.js";

const base = { CHATSYNC_URL: "http://127.0.0.1:8080", CHATSYNC_SESSION_ID: "42", CHATSYNC_SIDECAR_SECRET: "s" };

test("defaults are the seed's limits", () => {
  const c = loadConfig(base);
  assert.deepEqual(
    [c.batchSize, c.concurrency, c.chatsPerSecond, c.timeoutMs, c.retries, c.backoffMs, c.gcInterval],
    [50, 5, 10, 10_000, 3, 2_000, 50],
  );
  assert.equal(c.protocol, "binary");
  assert.deepEqual(Object.keys(c).sort(), Object.keys(defaultConfig()).sort());
});

test("env overrides", () => {
  const c = loadConfig({
    ...base, CHATSYNC_BATCH_SIZE: "100", CHATSYNC_CONCURRENCY: "2", CHATSYNC_CHATS_PER_SECOND: "0",
    CHATSYNC_MAX_CHATS: "500", CHATSYNC_SYNC_WINDOW_DAYS: "30", CHATSYNC_PROTOCOL: "json",
    CHROMIUM_PATH: "/usr/bin/chromium", CHATSYNC_WATCH_COMMANDS: "false",
  });
  assert.deepEqual(
    [c.batchSize, c.concurrency, c.chatsPerSecond, c.maxChats, c.syncWindowDays, c.protocol, c.chromiumPath, c.watchCommands],
    [100, 2, 0, 500, 30, "json", "/usr/bin/chromium", false],
  );
  const live = loadConfig({
    ...base, CHATSYNC_LIVE_FLUSH_MS: "100", CHATSYNC_LIVE_FLUSH_MESSAGES: "20", CHATSYNC_LIVE_BACKLOG: "500", CHATSYNC_LIVE_SPOOL_DIR: "/var/lib/chatsync-live",
  });
  assert.deepEqual([live.liveFlushMs, live.liveFlushMessages, live.liveBacklog, live.liveSpoolDir], [100, 20, 500, "/var/lib/chatsync-live"]);
  const d = loadConfig(base);
  assert.deepEqual([d.liveFlushMs, d.liveFlushMessages, d.liveBacklog, d.liveSpoolDir], [250, 100, 1000, ""]);
});

test("bad config is refused with the variable's name", () => {
  const cases = [
    [{ CHATSYNC_SESSION_ID: "" }, /CHATSYNC_SESSION_ID/],
    [{ CHATSYNC_SESSION_ID: "abc" }, /CHATSYNC_SESSION_ID/],
    [{ CHATSYNC_SIDECAR_SECRET: "" }, /CHATSYNC_SIDECAR_SECRET/],
    [{ CHATSYNC_URL: "localhost:8080" }, /CHATSYNC_URL/],
    [{ CHATSYNC_BATCH_SIZE: "501" }, /CHATSYNC_BATCH_SIZE/],
    [{ CHATSYNC_CONCURRENCY: "0" }, /CHATSYNC_CONCURRENCY/],
    [{ CHATSYNC_RETRIES: "many" }, /CHATSYNC_RETRIES/],
    [{ CHATSYNC_PROTOCOL: "grpc" }, /CHATSYNC_PROTOCOL/],
    [{ CHATSYNC_LIVE_FLUSH_MESSAGES: "0" }, /CHATSYNC_LIVE_FLUSH_MESSAGES/],
  ];
  for (const [env, want] of cases) assert.throws(() => loadConfig({ ...base, ...env }), want, JSON.stringify(env));
});
