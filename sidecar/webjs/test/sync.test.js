import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatType, ParticipantRole } from "../src/gen/chatsync/v1/chat_pb.js";
import { BatchKind } from "../src/gen/chatsync/v1/sync_pb.js";
import { createSyncApi } from "../src/api.js";
import { createLiveQueue } from "../src/live.js";
import { createPacer, historyBatchId, liveReport, streamChats, syncAllChats } from "../src/sync.js";
import { FakeError, startFakeServer } from "./support/fake-server.js";
import { FakeWhatsAppClient, fakeMessage, makeChats } from "./support/fake-whatsapp.js";
import { SECRET, SESSION_ID, captureLogger, fakeClock, testConfig } from "./support/helpers.js";

/** Starts a fake server and returns what a sync against it needs. */
async function setup(t, serverOpts = {}, configOverrides = {}) {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET }, ...serverOpts });
  t.after(() => server.close());
  const config = testConfig(server.url, configOverrides);
  const { logger, lines } = captureLogger();
  return { server, config, logger, lines, api: createSyncApi(config) };
}

const BATCH_ID = /^[A-Za-z0-9._:-]{1,64}$/;

test("syncAllChats lands every chat, in batches of 50, with groups and participants", async (t) => {
  for (const protocol of ["binary", "json"]) {
    await t.test(protocol, async (t) => {
      const { server, config, logger, lines, api } = await setup(t, {}, { protocol });
      const chats = makeChats(237, { groupEvery: 5, participants: 6, messages: 2 });
      const summary = await syncAllChats(new FakeWhatsAppClient(chats), SESSION_ID, config, { api, logger, runId: "run1" });

      assert.equal(summary.total, 237);
      assert.equal(summary.synced, 237);
      assert.equal(summary.accepted, 237);
      assert.equal(summary.failedBatches, 0);
      assert.equal(summary.stopped, null);
      const sizes = server.state.batches.map((b) => b.chats.length).sort((a, b) => b - a);
      assert.deepEqual(sizes, [50, 50, 50, 50, 37]);
      assert.equal(summary.batches, 5);

      const got = server.state.batches.flatMap((b) => b.chats);
      assert.equal(new Set(got.map((c) => c.jid)).size, 237);
      const groups = got.filter((c) => c.type === ChatType.GROUP);
      assert.equal(groups.length, chats.filter((c) => c.isGroup).length);
      for (const g of groups) {
        assert.match(g.jid, /@g\.us$/);
        assert.equal(g.group.participants.length, 6);
        assert.equal(g.group.participants.filter((p) => p.role === ParticipantRole.SUPERADMIN).length, 1);
        assert.equal(g.group.participants.filter((p) => p.role === ParticipantRole.ADMIN).length, 1);
      }
      for (const c of got.filter((c) => c.type === ChatType.PRIVATE)) assert.match(c.jid, /^\d+@s\.whatsapp\.net$/);
      assert.equal(got.reduce((n, c) => n + c.messages.length, 0), 237 * 2);
      for (const b of server.state.batches) {
        assert.equal(b.kind, BatchKind.HISTORY);
        assert.equal(b.sessionId, SESSION_ID);
        assert.match(b.batchId, BATCH_ID);
      }

      const msgs = lines.map((l) => l.msg);
      assert.equal(msgs[0], "Chat sync started");
      assert.ok(msgs.includes("Synced 237/237 chats"));
      const done = lines.find((l) => l.msg === "Chat sync completed");
      assert.equal(done.synced, 237);
      assert.equal(typeof done.duration_ms, "number");
      assert.ok(lines.every((l) => l.session_id === SESSION_ID), "session_id on every line");
      assert.ok(!JSON.stringify(lines).includes(SECRET), "the secret is never logged");
    });
  }
});

test("sync config: max chats newest first, sync window", async (t) => {
  const { server, config, logger, api } = await setup(t, {}, { maxChats: 30, syncWindowDays: 1 });
  const chats = makeChats(100, { baseTs: Math.floor(Date.now() / 1000) });
  const summary = await syncAllChats(new FakeWhatsAppClient(chats), SESSION_ID, config, { api, logger });
  assert.equal(summary.total, 30);
  const jids = new Set(server.state.batches.flatMap((b) => b.chats.map((c) => c.jid)));
  // The newest 30 are chats 0..29 (chat i is i minutes old).
  for (let i = 0; i < 30; i++) assert.ok(jids.has(chats[i].isGroup ? `${chats[i].id.user}@g.us` : `${chats[i].id.user}@s.whatsapp.net`));
});

test("never more than 5 SyncBatch calls in flight, and 5 are used", async (t) => {
  let release;
  const gate = new Promise((r) => (release = r));
  const { server, config, logger, api } = await setup(t, {
    syncBatch: async () => {
      // Hold the first wave until five calls are inside the server.
      if (server.state.inFlight >= 5) release();
      await gate;
    },
  });
  const summary = await syncAllChats(new FakeWhatsAppClient(makeChats(1000, { messages: 1 })), SESSION_ID, config, { api, logger });
  assert.equal(summary.synced, 1000);
  assert.equal(server.state.maxInFlight, 5);
});

test("concurrency is configurable", async (t) => {
  const { server, config, logger, api } = await setup(t, {}, { concurrency: 2, batchSize: 10 });
  await syncAllChats(new FakeWhatsAppClient(makeChats(200, { messages: 0 })), SESSION_ID, config, { api, logger });
  assert.ok(server.state.maxInFlight <= 2, `max in flight ${server.state.maxInFlight}`);
  assert.equal(server.state.batches.length, 20);
});

test("pacing: at most chatsPerSecond chats read per second", async (t) => {
  const clock = fakeClock();
  const start = clock.t;
  const { config, logger, api } = await setup(t, { now: clock.now }, { chatsPerSecond: 10, batchSize: 5 });
  // A chat is read when the sidecar maps it (fetchMessages): record when.
  const readAt = [];
  const chats = makeChats(25, { messages: 1 }).map((c) => ({
    ...c,
    fetchMessages: (o) => {
      readAt.push(clock.t - start);
      return c.fetchMessages(o);
    },
  }));
  const summary = await syncAllChats(new FakeWhatsAppClient(chats), SESSION_ID, config, {
    api, logger, now: clock.now, sleep: clock.sleep,
  });
  assert.equal(summary.synced, 25);
  // Chat n is read at n/10 s.
  assert.deepEqual(readAt, Array.from({ length: 25 }, (_, n) => n * 100));
  for (const t0 of readAt) {
    assert.ok(readAt.filter((x) => x >= t0 && x < t0 + 1_000).length <= 10, "no more than 10 reads in any second");
  }
});

test("pacing in real time", async (t) => {
  const { config, logger, api } = await setup(t, {}, { chatsPerSecond: 200, batchSize: 10 });
  const t0 = performance.now();
  await syncAllChats(new FakeWhatsAppClient(makeChats(41, { messages: 0 })), SESSION_ID, config, { api, logger });
  assert.ok(performance.now() - t0 >= 195, "41 chats at 200/s take at least 200 ms");
});

test("createPacer", async () => {
  const clock = fakeClock(0);
  const pace = createPacer(4, clock.now, clock.sleep);
  for (let i = 0; i < 5; i++) await pace();
  assert.deepEqual(clock.sleeps, [250, 250, 250, 250]);
  const unpaced = createPacer(0, clock.now, async () => assert.fail("slept"));
  await unpaced();
});

test("retries with backoff, and retry-after on resource_exhausted", async (t) => {
  const waits = [];
  const { server, config, logger, lines, api } = await setup(t, {
    syncBatch: (req, n) => {
      if (req.batchId.endsWith(":000000:" + req.batchId.split(":")[3]) && n <= 2) throw new FakeError("unavailable", "database down");
      if (req.batchId.includes(":000001:") && n === 1) throw new FakeError("resource_exhausted", "rate limit of 60 calls a minute: retry after 7 s", { "retry-after": "7" });
      if (req.batchId.includes(":000002:") && n === 1) throw new FakeError("resource_exhausted", "rate limit: retry after 3 s");
    },
  }, { backoffMs: 2_000, maxBackoffMs: 300_000, concurrency: 1 });
  const summary = await syncAllChats(new FakeWhatsAppClient(makeChats(150, { messages: 0 })), SESSION_ID, config, {
    api, logger, sleep: async (ms) => waits.push(ms),
  });
  assert.equal(summary.synced, 150);
  assert.equal(summary.failedBatches, 0);
  assert.deepEqual(waits, [2_000, 4_000, 7_000, 3_000]);
  // Retries resend the same batch ID; the server saw batch 0 three times.
  assert.deepEqual([...server.state.calls.values()], [3, 2, 2]);
  assert.equal(lines.filter((l) => l.msg === "SyncBatch failed, retrying").length, 4);
});

test("a batch that keeps failing is counted and the rest still lands", async (t) => {
  const { server, config, logger, lines, api } = await setup(t, {
    syncBatch: (req) => {
      if (req.batchId.includes(":000001:")) throw new FakeError("unavailable", "down");
      if (req.batchId.includes(":000002:")) throw new FakeError("invalid_argument", "chats[3].jid: bad");
    },
  });
  const summary = await syncAllChats(new FakeWhatsAppClient(makeChats(200, { messages: 0 })), SESSION_ID, config, { api, logger });
  assert.equal(summary.failedBatches, 2);
  assert.equal(summary.failedChats, 100);
  assert.equal(summary.synced, 100);
  const calls = Object.fromEntries([...server.state.calls].map(([id, n]) => [id.split(":")[2], n]));
  assert.equal(calls["000001"], 4, "unavailable: 1 + 3 retries");
  assert.equal(calls["000002"], 1, "invalid_argument: not retried");
  assert.equal(lines.filter((l) => l.msg === "SyncBatch failed after retries").length, 2);
});

test("a per-call timeout is retried", async (t) => {
  let first = true;
  const { config, logger, api } = await setup(t, {
    syncBatch: async () => {
      if (first) {
        first = false;
        await new Promise((r) => setTimeout(r, 500)); // longer than the 100 ms timeout
      }
    },
  }, { timeoutMs: 100 });
  const waits = [];
  const summary = await syncAllChats(new FakeWhatsAppClient(makeChats(10, { messages: 0 })), SESSION_ID, config, {
    api, logger, sleep: async (ms) => waits.push(ms),
  });
  assert.equal(summary.synced, 10);
  assert.equal(waits.length, 1, "one retry after the deadline");
});

test("unauthenticated stops the sync and says the secret is wrong", async (t) => {
  const { server, config, logger, lines } = await setup(t);
  const wrong = { ...config, secret: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
  const summary = await syncAllChats(new FakeWhatsAppClient(makeChats(1000, { messages: 0 })), SESSION_ID, wrong, {
    api: createSyncApi(wrong), logger, sleep: async () => assert.fail("retried an unauthenticated call"),
  });
  assert.equal(summary.stopped, "unauthenticated");
  assert.equal(summary.synced, 0);
  assert.equal(server.state.batches.length, 0);
  assert.ok(server.state.refused.length <= 5, `${server.state.refused.length} calls refused; the rest were never sent`);
  const errors = lines.filter((l) => l.level === 50);
  assert.equal(errors.length, 1);
  assert.match(errors[0].msg, /secret is wrong/);
});

test("batch IDs are deterministic: a rerun of the same run is deduplicated", async (t) => {
  const { server, config, logger, api } = await setup(t);
  const client = new FakeWhatsAppClient(makeChats(120, { messages: 1 }));
  const first = await syncAllChats(client, SESSION_ID, config, { api, logger, runId: "r1" });
  const ids = server.state.batches.map((b) => b.batchId).sort();
  const again = await syncAllChats(client, SESSION_ID, config, { api, logger, runId: "r1" });
  assert.equal(again.duplicates, first.batches);
  assert.equal(server.state.batches.length, ids.length, "nothing new accepted");
  await syncAllChats(client, SESSION_ID, config, { api, logger, runId: "r2" });
  assert.equal(server.state.batches.length, ids.length * 2, "a new run has new IDs");
  for (const id of ids) assert.match(id, BATCH_ID);
});

test("historyBatchId", () => {
  const a = historyBatchId("42", "run", 3, ["1@s.whatsapp.net", "2@g.us"]);
  assert.equal(a, historyBatchId("42", "run", 3, ["1@s.whatsapp.net", "2@g.us"]));
  assert.match(a, /^h:run:000003:[0-9a-f]{16}$/);
  for (const other of [
    historyBatchId("43", "run", 3, ["1@s.whatsapp.net", "2@g.us"]),
    historyBatchId("42", "run2", 3, ["1@s.whatsapp.net", "2@g.us"]),
    historyBatchId("42", "run", 4, ["1@s.whatsapp.net", "2@g.us"]),
    historyBatchId("42", "run", 3, ["1@s.whatsapp.net"]),
  ]) assert.notEqual(other, a);
});

test("streamChats yields one at a time and hints the GC every 50 chats", async () => {
  let gcCalls = 0;
  let total = -1;
  const client = new FakeWhatsAppClient(makeChats(175, { messages: 0 }));
  let n = 0;
  for await (const chat of streamChats(client, { gcInterval: 50 }, { gc: () => gcCalls++, onTotal: (x) => (total = x) })) {
    assert.ok(chat.id);
    n++;
  }
  assert.equal(total, 175);
  assert.equal(n, 175);
  assert.equal(gcCalls, 3);
  assert.equal(client.getChatsCalls, 1);
});

test("resync of one chat", async (t) => {
  const { server, config, logger, api } = await setup(t);
  const chats = makeChats(20, { messages: 1 });
  const summary = await syncAllChats(new FakeWhatsAppClient(chats), SESSION_ID, config, { api, logger, chatJid: "120363000000000004@g.us" });
  assert.equal(summary.total, 1);
  assert.deepEqual(server.state.batches.flatMap((b) => b.chats.map((c) => c.jid)), ["120363000000000004@g.us"]);
});

test("live messages go out as live batches; groups carry type, JID and participants", async (t) => {
  const { server, config, logger, api } = await setup(t);
  const chats = makeChats(10, { participants: 3, messages: 0 });
  const group = chats[4];
  const client = new FakeWhatsAppClient(chats);
  const live = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir: config.liveSpoolDir, logger, flushMs: 1 });
  t.after(() => live.close());
  const msg = fakeMessage({ chatId: group.id, n: 99, timestamp: 1_750_000_500, author: group.participants[2].id._serialized, body: "new!" });
  const reports = [];
  client.on("message", (m) => reports.push(liveReport(m)));
  client.emitMessage("message", msg);
  live.add(await reports[0]);
  await live.flush();
  const [b] = server.state.batches;
  assert.equal(b.kind, BatchKind.LIVE);
  assert.match(b.batchId, BATCH_ID);
  const [c] = b.chats;
  assert.equal(c.jid, "120363000000000004@g.us");
  assert.equal(c.type, ChatType.GROUP);
  assert.equal(c.group.participants.length, 3);
  assert.equal(c.messages.length, 1);
  assert.equal(c.messages[0].senderJid, group.participants[2].id._serialized.replace("@c.us", "@s.whatsapp.net"));
  assert.equal(c.lastActivityTime.seconds, 1_750_000_500n);
  // A live report carries no state: the server keeps the stored unread
  // count, archived and pinned, and counts the message as unread itself.
  assert.equal(group.unreadCount, 1, "the fake chat has state to leave out");
  assert.equal(c.unreadCount, undefined);
  assert.equal(c.archived, undefined);
  assert.equal(c.pinned, undefined);

  // A status broadcast is not reported.
  const status = { ...msg, getChat: async () => ({ id: "status@broadcast" }) };
  assert.equal(await liveReport(status), null);
});

test("a chat whose messages cannot be read is retried, reported, and the sync goes on", async (t) => {
  const { server, config, logger, lines, api } = await setup(t, {}, { chatRetries: 2 });
  const chats = makeChats(120, { messages: 2 });
  const bad = chats[37];
  let badCalls = 0;
  bad.fetchMessages = async () => {
    badCalls++;
    throw new TypeError("Cannot read properties of undefined (reading 'waitForChatLoading')");
  };
  const waits = [];
  const summary = await syncAllChats(new FakeWhatsAppClient(chats), SESSION_ID, config, {
    api, logger, sleep: async (ms) => void waits.push(ms),
  });

  assert.equal(badCalls, 3, "one try and chatRetries (2) retries");
  assert.deepEqual(waits, [1, 2], "backoff from backoffMs, doubling");
  assert.equal(summary.total, 120);
  assert.equal(summary.synced, 119);
  assert.equal(summary.unreadable, 1);
  assert.equal(summary.failedBatches, 0);
  assert.equal(summary.stopped, null);
  const badJid = `${bad.id.user}@s.whatsapp.net`;
  assert.deepEqual(summary.unreadableChats, [{ jid: badJid, reason: "Cannot read properties of undefined (reading 'waitForChatLoading')" }]);
  const got = new Set(server.state.batches.flatMap((b) => b.chats.map((c) => c.jid)));
  assert.equal(got.size, 119);
  assert.ok(!got.has(badJid));

  const reported = lines.find((l) => l.msg === "Chat could not be read from WhatsApp Web; left out, the sync goes on");
  assert.equal(reported.chat_jid, badJid);
  assert.equal(reported.session_id, SESSION_ID);
  assert.equal(reported.attempts, 3);
  assert.equal(lines.find((l) => l.msg === "Chat sync completed").unreadable, 1);

  // A resync command says so in its outcome.
  const { clientHandlers } = await import("../src/commands.js");
  await assert.rejects(clientHandlers({}, async () => summary).resync(""), /1 of 120 chats could not be read from WhatsApp Web.*waitForChatLoading/);
});
