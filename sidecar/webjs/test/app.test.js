import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createSyncApi } from "../src/api.js";
import { createSidecar } from "../src/app.js";
import { BatchKind } from "../src/gen/chatsync/v1/sync_pb.js";
import { startFakeServer } from "./support/fake-server.js";
import { FakeWhatsAppClient, fakeMessage, makeChats } from "./support/fake-whatsapp.js";
import { SECRET, SESSION_ID, captureLogger, testConfig, waitFor } from "./support/helpers.js";

test("the sidecar: QR, sync on ready, live messages, commands", async (t) => {
  const resyncs = [];
  const server = await startFakeServer({
    sessions: { [SESSION_ID]: SECRET },
    async *watchCommands(req, signal) {
      yield { command: { commandId: "r1", command: { case: "resync", value: { chatJid: "" } } } };
      resyncs.push("sent");
      if (!signal.aborted) await once(signal, "abort");
    },
  });
  t.after(() => server.close());
  const config = testConfig(server.url);
  const { logger, lines } = captureLogger();
  const chats = makeChats(120, { messages: 1 });
  const client = new FakeWhatsAppClient(chats);
  const qrs = [];
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger, showQr: (qr) => qrs.push(qr) });

  client.emit("qr", "2@abc,def");
  assert.deepEqual(qrs, ["2@abc,def"]);

  client.emit("ready");
  // The first sync, then the resync command's: 3 batches each.
  await waitFor(() => server.state.completed.length === 1, 5_000, "the resync command to complete");
  assert.equal(server.state.completed[0].error, "");
  assert.equal(client.getChatsCalls, 2, "a full sync per ready and per resync command");
  const history = server.state.batches.filter((b) => b.kind === BatchKind.HISTORY);
  assert.equal(history.length, 6);
  assert.equal(new Set(history.flatMap((b) => b.chats.map((c) => c.jid))).size, 120);

  // Incoming message, and one sent from the phone.
  client.emitMessage("message", fakeMessage({ chatId: chats[0].id, n: 500, timestamp: 1_750_000_100 }));
  client.emitMessage("message_create", fakeMessage({ chatId: chats[1].id, n: 501, timestamp: 1_750_000_101, fromMe: true }));
  client.emitMessage("message_create", fakeMessage({ chatId: chats[2].id, n: 502, timestamp: 1_750_000_102 })); // incoming: 'message' covers it
  const liveMessages = () => server.state.batches.filter((b) => b.kind === BatchKind.LIVE).flatMap((b) => b.chats.flatMap((c) => c.messages));
  await waitFor(() => liveMessages().length === 2, 5_000, "two live messages");
  // A ciphertext is a placeholder until its decrypted message comes.
  const cipher = fakeMessage({ chatId: chats[3].id, n: 503, timestamp: 1_750_000_103, type: "ciphertext", body: "" });
  client.emitMessage("message_ciphertext", cipher);
  await waitFor(() => liveMessages().length === 3, 5_000, "the placeholder");
  client.emitMessage("message", { ...cipher, type: "chat", body: "decrypted" });
  await waitFor(() => liveMessages().length === 4, 5_000, "the decrypted message");
  const both = liveMessages().filter((m) => m.id === cipher.id.id);
  assert.deepEqual(both.map((m) => [m.waiting, m.text]), [[true, ""], [false, "decrypted"]]);
  await waitFor(() => sidecar.live.pending === 0, 5_000, "the live queue to drain");

  await sidecar.close();
  assert.ok(lines.some((l) => l.msg === "Chat sync completed"));
  assert.ok(lines.every((l) => l.session_id === SESSION_ID));
});

test("a full resync asked for during a sync runs once more afterwards, never in parallel", async (t) => {
  let inFlightSyncs = 0;
  let maxSyncs = 0;
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET } });
  t.after(() => server.close());
  const config = testConfig(server.url);
  const { logger } = captureLogger();
  const client = new FakeWhatsAppClient(makeChats(60, { messages: 0 }));
  const getChats = client.getChats.bind(client);
  client.getChats = async () => {
    maxSyncs = Math.max(maxSyncs, ++inFlightSyncs);
    try {
      return await getChats();
    } finally {
      inFlightSyncs--;
    }
  };
  const sidecar = createSidecar({ client, config: { ...config, watchCommands: false }, api: createSyncApi(config), logger });
  const a = sidecar.resync();
  const b = sidecar.resync();
  const c = sidecar.resync();
  await Promise.all([a, b, c]);
  assert.equal(client.getChatsCalls, 2, "one sync, then one more for the requests made during it");
  assert.equal(maxSyncs, 1);
  await sidecar.close();
});

test("the command stream is open only while WhatsApp is ready; a command in flight is still completed", async (t) => {
  const open = new Set();
  let streams = 0;
  let releaseSend;
  const server = await startFakeServer({
    sessions: { [SESSION_ID]: SECRET },
    async *watchCommands(req, signal) {
      const n = ++streams;
      open.add(n);
      try {
        yield {};
        if (n === 1) yield { command: { commandId: "s1", command: { case: "send", value: { chatJid: "15550000000@s.whatsapp.net", text: "hi" } } } };
        if (!signal.aborted) await once(signal, "abort");
      } finally {
        open.delete(n);
      }
    },
  });
  const config = testConfig(server.url);
  const { logger, lines } = captureLogger();
  const client = new FakeWhatsAppClient(makeChats(3, { messages: 0 }));
  const sendMessage = client.sendMessage.bind(client);
  client.sendMessage = async (...args) => {
    await new Promise((resolve) => (releaseSend = resolve));
    return sendMessage(...args);
  };
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger });
  t.after(async () => {
    releaseSend?.();
    await sidecar.close();
    await server.close();
  });

  client.emit("ready");
  await waitFor(() => open.has(1) && releaseSend, 5_000, "the first stream and its send command");
  client.emit("disconnected", "NAVIGATION");
  await waitFor(() => open.size === 0, 5_000, "the stream to close on disconnected");
  client.emit("ready"); // while the first watcher still waits for its send
  releaseSend();
  await waitFor(() => server.state.completed.length === 1 && open.has(2), 5_000, "the send completed and a new stream");
  assert.deepEqual([server.state.completed[0].commandId, server.state.completed[0].error, server.state.completed[0].messageId], ["s1", "", "3EB0SENT0"]);
  assert.equal(streams, 2);
  assert.ok(lines.some((l) => l.msg.startsWith("WhatsApp disconnected")));

  await sidecar.close();
  await waitFor(() => open.size === 0, 5_000, "the stream to close on close()");
});
