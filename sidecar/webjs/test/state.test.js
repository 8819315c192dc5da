import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createSyncApi } from "../src/api.js";
import { createSidecar } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { BatchKind } from "../src/gen/chatsync/v1/sync_pb.js";
import { SidecarState, applySyncConfig } from "../src/state.js";
import { startFakeServer } from "./support/fake-server.js";
import { FakeWhatsAppClient, makeChats } from "./support/fake-whatsapp.js";
import { SECRET, SESSION_ID, captureLogger, testConfig, waitFor } from "./support/helpers.js";

/** History batches grouped by sync run (batch IDs are h:<run>:<index>:…). */
function runs(server) {
  const out = new Map();
  for (const b of server.state.batches.filter((x) => x.kind === BatchKind.HISTORY)) {
    const run = b.batchId.split(":")[1];
    out.set(run, [...(out.get(run) ?? []), ...b.chats]);
  }
  return [...out.values()];
}

test("the sync config is taken from chatsync: at start, and as it changes on the command stream", async (t) => {
  const server = await startFakeServer({
    sessions: { [SESSION_ID]: SECRET },
    reportSidecarState: () => ({ syncConfig: { maxChats: 2, syncWindowDays: 0, messagesPerChat: 1 } }),
    async *watchCommands(req, signal) {
      // The session's config changed: every message carries it.
      const syncConfig = { maxChats: 3, syncWindowDays: 0, messagesPerChat: 2 };
      yield { syncConfig };
      yield { syncConfig, command: { commandId: "r1", command: { case: "resync", value: { chatJid: "" } } } };
      if (!signal.aborted) await once(signal, "abort");
    },
  });
  t.after(() => server.close());
  // The env says all chats, 10 messages each: only defaults.
  const config = testConfig(server.url, { maxChats: 0, messagesPerChat: 10 });
  const { logger, lines } = captureLogger();
  const client = new FakeWhatsAppClient(makeChats(5, { messages: 3 }));
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger });
  t.after(() => sidecar.close());

  await sidecar.report(SidecarState.STARTING);
  assert.equal(config.maxChats, 2);
  assert.equal(config.messagesPerChat, 1);
  assert.ok(lines.some((l) => l.msg === "Sync config from chatsync" && l.source === "ReportSidecarState"));

  client.emit("ready");
  await waitFor(() => server.state.completed.length === 1, 5_000, "the resync command to complete");
  const [first, second] = runs(server);
  assert.deepEqual([first.length, first.map((c) => c.messages.length)], [2, [1, 1]], "the first sync: chatsync's config at start");
  assert.deepEqual([second.length, second.map((c) => c.messages.length)], [3, [2, 2, 2]], "the resync: the config from the stream");
  assert.ok(lines.some((l) => l.msg === "Sync config from chatsync" && l.source === "WatchCommands"));
});

test("a messages_per_chat of 0 keeps the env's value, whose default is chatsync's (100)", () => {
  const config = loadConfig({ CHATSYNC_SESSION_ID: "7", CHATSYNC_SIDECAR_SECRET: "s", CHATSYNC_MAX_CHATS: "50" });
  assert.equal(config.messagesPerChat, 100);
  assert.equal(applySyncConfig(config, { maxChats: 0, syncWindowDays: 30, messagesPerChat: 0 }), true);
  assert.deepEqual([config.maxChats, config.syncWindowDays, config.messagesPerChat], [0, 30, 100], "max_chats 0 from chatsync is no limit");
  assert.equal(applySyncConfig(config, { maxChats: 0, syncWindowDays: 30, messagesPerChat: 0 }), false);
  applySyncConfig(config, { maxChats: 10, syncWindowDays: 0, messagesPerChat: 400 });
  assert.deepEqual([config.maxChats, config.syncWindowDays, config.messagesPerChat], [10, 0, 400]);
  applySyncConfig(config, { maxChats: 10, syncWindowDays: 0, messagesPerChat: 0 });
  assert.equal(config.messagesPerChat, 100, "back to the env's value, not the last one from chatsync");
});

test("the sidecar reports its states, and its last sync with the chats it could not read", async (t) => {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET } });
  t.after(() => server.close());
  const config = testConfig(server.url, { watchCommands: false, chatRetries: 0 });
  const { logger } = captureLogger();
  const chats = makeChats(10, { messages: 1 });
  chats[3].fetchMessages = async () => {
    throw new Error("Evaluation failed: t: Cannot read properties of undefined");
  };
  const client = new FakeWhatsAppClient(chats);
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger, showQr: () => {} });
  t.after(() => sidecar.close());

  await sidecar.report(SidecarState.STARTING);
  client.emit("qr", "2@abc");
  client.emit("authenticated");
  client.emit("ready");
  await waitFor(() => server.state.reports.some((r) => r.lastSync), 5_000, "the sync's report");
  client.emit("disconnected", "NAVIGATION");
  client.emit("disconnected", "LOGOUT");
  await waitFor(() => server.state.reports.length === 7, 5_000, "seven reports");

  const got = server.state.reports.map((r) => [SidecarState[r.state], r.lastError]);
  assert.deepEqual(got, [
    ["STARTING", ""], ["QR_WANTED", ""], ["AUTHENTICATED", ""], ["READY", ""], ["READY", ""],
    ["UNREACHABLE", "disconnected: NAVIGATION"], ["LOGGED_OUT", "logged out from the phone"],
  ]);
  const sync = server.state.reports[4].lastSync;
  assert.deepEqual([sync.total, sync.synced, sync.unreadableChatCount], [10, 9, 1]);
  assert.equal(sync.unreadableChats[0].chatJid, `${chats[3].id.user}@s.whatsapp.net`);
  assert.match(sync.unreadableChats[0].reason, /Cannot read properties of undefined/);
  assert.ok(server.state.reports.every((r) => r.sessionId === SESSION_ID));
});
