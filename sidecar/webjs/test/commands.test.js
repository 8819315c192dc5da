import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createSyncApi } from "../src/api.js";
import { clientHandlers, watchCommands } from "../src/commands.js";
import { syncAllChats } from "../src/sync.js";
import { FakeError, startFakeServer } from "./support/fake-server.js";
import { FakeWhatsAppClient, makeChats } from "./support/fake-whatsapp.js";
import { SECRET, SESSION_ID, captureLogger, testConfig, waitFor } from "./support/helpers.js";

const cmd = (commandId, command) => ({ command: { commandId, command } });

/** Waits until the stream's consumer goes away. */
async function* idle(signal) {
  if (!signal.aborted) await once(signal, "abort");
}

test("WatchCommands: send and resync commands run and are completed; the stream reconnects", async (t) => {
  let connection = 0;
  const server = await startFakeServer({
    sessions: { [SESSION_ID]: SECRET },
    async *watchCommands(req, signal) {
      assert.equal(req.sessionId, SESSION_ID);
      if (++connection === 1) {
        yield {}; // heartbeat
        yield cmd("c1", { case: "send", value: { chatJid: "15550000000@s.whatsapp.net", text: "hello" } });
        yield cmd("c2", { case: "send", value: { chatJid: "19999999999@s.whatsapp.net", text: "nobody" } });
        return; // the stream drops; the sidecar must reconnect
      }
      yield cmd("c3", { case: "resync", value: { chatJid: "120363000000000004@g.us" } });
      yield* idle(signal);
    },
  });
  t.after(() => server.close());
  const config = testConfig(server.url);
  const { logger, lines } = captureLogger();
  const api = createSyncApi(config);
  const client = new FakeWhatsAppClient(makeChats(10, { messages: 1 }));
  const stop = new AbortController();
  const resync = (chatJid) => syncAllChats(client, SESSION_ID, config, { api, logger, chatJid });
  const done = watchCommands(clientHandlers(client, resync), { api, sessionId: SESSION_ID, config, logger, signal: stop.signal });

  await waitFor(() => server.state.completed.length === 3, 5_000, "three completed commands");
  stop.abort(new Error("test over"));
  assert.equal(await done, "aborted");

  const [c1, c2, c3] = server.state.completed;
  assert.deepEqual([c1.commandId, c1.error, c1.messageId], ["c1", "", "3EB0SENT0"]);
  assert.deepEqual(client.sent, [{ chatId: "15550000000@c.us", text: "hello" }]);
  assert.equal(c2.commandId, "c2");
  assert.match(c2.error, /no chat/);
  assert.deepEqual([c3.commandId, c3.error], ["c3", ""]);
  assert.deepEqual(server.state.batches.flatMap((b) => b.chats.map((c) => c.jid)), ["120363000000000004@g.us"]);
  assert.ok(server.state.watchers >= 2, "reconnected after the stream ended");
  assert.ok(lines.some((l) => l.msg === "Command stream ended; reconnecting"));
});

test("WatchCommands never runs a redelivered command twice; it completes it again with the first outcome", async (t) => {
  let connection = 0;
  const send = cmd("c1", { case: "send", value: { chatJid: "15550000000@s.whatsapp.net", text: "once" } });
  const server = await startFakeServer({
    sessions: { [SESSION_ID]: SECRET },
    async *watchCommands(req, signal) {
      // The server delivers open commands on every stream: c1 comes again
      // on the second, whether or not the first completion arrived.
      connection++;
      yield send;
      if (connection === 1) return;
      yield cmd("c2", { case: "send", value: { chatJid: "19999999999@s.whatsapp.net", text: "nobody" } });
      if (connection === 2) return;
      yield cmd("c2", { case: "send", value: { chatJid: "19999999999@s.whatsapp.net", text: "nobody" } });
      yield* idle(signal);
    },
  });
  t.after(() => server.close());
  const config = testConfig(server.url);
  const { logger, lines } = captureLogger();
  const api = createSyncApi(config);
  const client = new FakeWhatsAppClient(makeChats(3, { messages: 0 }));
  let failures = 0;
  const sendMessage = client.sendMessage.bind(client);
  client.sendMessage = async (...args) => sendMessage(...args).catch((err) => {
    failures++;
    throw err;
  });
  const stop = new AbortController();
  const done = watchCommands(clientHandlers(client, async () => {}), { api, sessionId: SESSION_ID, config, logger, signal: stop.signal });

  await waitFor(() => server.state.completed.length === 6, 5_000, "six completions");
  stop.abort(new Error("test over"));
  assert.equal(await done, "aborted");

  assert.deepEqual(client.sent, [{ chatId: "15550000000@c.us", text: "once" }], "sent once");
  assert.equal(failures, 1, "the failing send was tried once");
  const byId = { c1: [], c2: [] };
  for (const c of server.state.completed) byId[c.commandId].push(c);
  assert.deepEqual(byId.c1.map((c) => [c.error, c.messageId]), [["", "3EB0SENT0"], ["", "3EB0SENT0"], ["", "3EB0SENT0"]]);
  assert.equal(byId.c2.length, 3);
  assert.ok(byId.c2.every((c) => /no chat/.test(c.error) && c.error === byId.c2[0].error && c.messageId === ""));
  assert.ok(lines.some((l) => l.msg === "Command delivered again; completing it with its first outcome" && l.command_id === "c1"));
});

test("a resync command fails when its sync left chats unsynced, stopped, or found no chat", async () => {
  const summary = (over) => ({ runId: "r", total: 10, synced: 10, accepted: 10, rejected: 0, batches: 1, duplicates: 0,
    failedBatches: 0, failedChats: 0, skipped: 0, stopped: null, durationMs: 1, ...over });
  const handlers = (s) => clientHandlers(new FakeWhatsAppClient(), async () => s);
  await handlers(summary({})).resync("");
  await handlers(undefined).resync("");
  await assert.rejects(handlers(summary({ synced: 0, failedBatches: 1, failedChats: 10 })).resync(""), /10 of 10 chats were not synced/);
  await assert.rejects(handlers(summary({ synced: 4, stopped: "unauthenticated" })).resync(""), /stopped early \(unauthenticated\) after 4 of 10/);
  await assert.rejects(handlers(summary({ total: 0, synced: 0 })).resync("1@s.whatsapp.net"), /WhatsApp has no chat 1@s.whatsapp.net/);
  await handlers(summary({ total: 0, synced: 0 })).resync(""); // an account without chats
});

test("WatchCommands reconnects with exponential backoff", async (t) => {
  const server = await startFakeServer({
    sessions: { [SESSION_ID]: SECRET },
    async *watchCommands() {
      throw new FakeError("unavailable", "server restarting");
    },
  });
  t.after(() => server.close());
  const config = testConfig(server.url, { reconnectMs: 100 });
  const { logger, lines } = captureLogger();
  const stop = new AbortController();
  const waits = [];
  const sleep = async (ms) => {
    waits.push(ms);
    if (waits.length === 5) stop.abort(new Error("enough"));
  };
  const result = await watchCommands(clientHandlers(new FakeWhatsAppClient(), async () => {}), {
    api: createSyncApi(config), sessionId: SESSION_ID, config, logger, sleep, signal: stop.signal,
  });
  assert.equal(result, "aborted");
  assert.deepEqual(waits, [100, 200, 400, 800, 1_600]);
  assert.equal(lines.filter((l) => l.msg === "Command stream dropped; reconnecting" && l.code === "unavailable").length, 5);
});

test("WatchCommands reopens a stream that goes silent past the heartbeat timeout", async (t) => {
  const server = await startFakeServer({
    sessions: { [SESSION_ID]: SECRET },
    watchCommands: (req, signal) => idle(signal),
  });
  t.after(() => server.close());
  const config = testConfig(server.url, { heartbeatTimeoutMs: 30 });
  const { logger } = captureLogger();
  const stop = new AbortController();
  const done = watchCommands(clientHandlers(new FakeWhatsAppClient(), async () => {}), {
    api: createSyncApi(config), sessionId: SESSION_ID, config, logger, signal: stop.signal,
  });
  await waitFor(() => server.state.watchers >= 3, 5_000, "three connections");
  stop.abort(new Error("test over"));
  assert.equal(await done, "aborted");
});

test("WatchCommands stops on unauthenticated and says the secret is wrong", async (t) => {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET }, watchCommands: (req, signal) => idle(signal) });
  t.after(() => server.close());
  const config = testConfig(server.url, { secret: "wrong" });
  const { logger, lines } = captureLogger();
  const result = await watchCommands(clientHandlers(new FakeWhatsAppClient(), async () => {}), {
    api: createSyncApi(config), sessionId: SESSION_ID, config, logger, sleep: async () => assert.fail("reconnected"),
  });
  assert.equal(result, "unauthenticated");
  assert.equal(server.state.watchers, 0);
  assert.equal(server.state.refused[0].method, "WatchCommands");
  assert.ok(lines.some((l) => l.level === 50 && /secret is wrong/.test(l.msg)));
});
