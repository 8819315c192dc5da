import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ChatType } from "../src/gen/chatsync/v1/chat_pb.js";
import { BatchKind, ParticipantAction, SyncChatSchema } from "../src/gen/chatsync/v1/sync_pb.js";
import { createSyncApi } from "../src/api.js";
import { createLiveQueue, liveBatch, liveWait } from "../src/live.js";
import { FakeError, startFakeServer } from "./support/fake-server.js";
import { SECRET, SESSION_ID, captureLogger, testConfig, waitFor } from "./support/helpers.js";

/** A live report of message n in chat c. */
function report(c, n) {
  const ts = { seconds: BigInt(1_750_000_000 + n), nanos: 0 };
  return create(SyncChatSchema, {
    jid: `1555000${String(c).padStart(4, "0")}@s.whatsapp.net`, type: ChatType.PRIVATE, lastActivityTime: ts,
    messages: [{ id: `m${n}`, timestamp: ts, text: "hi" }],
  });
}

/** Message IDs the server stored, with how often (duplicates of a batch ID count once). */
function stored(server) {
  const seen = new Map();
  for (const b of server.state.batches) {
    for (const c of b.chats) for (const m of c.messages) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
  }
  return seen;
}

async function setup(t, serverOpts = {}) {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET }, ...serverOpts });
  t.after(() => server.close());
  const config = testConfig(server.url);
  const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), "chatsync-live-"));
  t.after(() => fs.rmSync(spoolDir, { recursive: true, force: true }));
  const { logger, lines } = captureLogger();
  return { server, config, spoolDir, logger, lines, api: createSyncApi(config) };
}

test("liveWait: retry-after, jittered backoff, the longest wait for refusals", () => {
  const policy = { backoffMs: 1000, maxBackoffMs: 60_000 };
  const limited = new ConnectError("rate limit of 600 live SyncBatch calls per minute; retry after 7 s", Code.ResourceExhausted);
  assert.equal(liveWait(1, limited, policy), 7000);
  const down = new ConnectError("down", Code.Unavailable);
  assert.equal(liveWait(3, down, policy, () => 0), 2000);
  assert.equal(liveWait(3, down, policy, () => 1), 4000);
  assert.equal(liveWait(40, down, policy, () => 1), 60_000, "capped, and no attempt cap");
  assert.equal(liveWait(1, new ConnectError("bad", Code.Unauthenticated), policy), 60_000);
  assert.equal(liveWait(1, new ConnectError("bad", Code.InvalidArgument), policy), 60_000);
});

test("liveBatch: one SyncChat per chat, and an ID from the contents", () => {
  const a = liveBatch(SESSION_ID, [report(1, 1), report(2, 2), report(1, 3)]);
  assert.equal(a.kind, BatchKind.LIVE);
  assert.deepEqual(a.chats.map((c) => c.jid), [report(1, 0).jid, report(2, 0).jid]);
  assert.deepEqual(a.chats[0].messages.map((m) => m.id), ["m1", "m3"]);
  assert.equal(a.chats[0].lastActivityTime.seconds, 1_750_000_003n);
  assert.match(a.batchId, /^l:[0-9a-f]{40}$/);
  assert.equal(liveBatch(SESSION_ID, [report(1, 1), report(2, 2), report(1, 3)]).batchId, a.batchId);
  assert.notEqual(liveBatch(SESSION_ID, [report(1, 1)]).batchId, a.batchId);
});

test("liveBatch: a group's changes in one batch all apply; a later member list supersedes earlier changes", () => {
  const g = (group) => create(SyncChatSchema, { jid: "120363000000000009@g.us", type: ChatType.GROUP, group, messages: [] });
  const join = (jid) => ({ participantChanges: [{ jid, action: ParticipantAction.JOIN }] });
  const a = liveBatch(SESSION_ID, [g(join("1@s.whatsapp.net")), g({ subject: "Crew", ...join("2@s.whatsapp.net") }), g(join("3@s.whatsapp.net"))]);
  assert.equal(a.chats.length, 1);
  assert.deepEqual(a.chats[0].group.participantChanges.map((c) => c.jid), ["1@s.whatsapp.net", "2@s.whatsapp.net", "3@s.whatsapp.net"]);
  assert.equal(a.chats[0].group.subject, "Crew");
  const b = liveBatch(SESSION_ID, [g(join("1@s.whatsapp.net")), g({ participants: [{ jid: "1@s.whatsapp.net" }, { jid: "4@s.whatsapp.net" }] }), g(join("5@s.whatsapp.net"))]);
  assert.deepEqual(b.chats[0].group.participants.map((p) => p.jid), ["1@s.whatsapp.net", "4@s.whatsapp.net"]);
  assert.deepEqual(b.chats[0].group.participantChanges.map((c) => c.jid), ["5@s.whatsapp.net"]);
});

test("live reports are coalesced: a few calls, every message once", async (t) => {
  const { server, spoolDir, logger, api } = await setup(t);
  const q = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir, logger, flushMs: 30 });
  t.after(() => q.close());
  for (let i = 0; i < 250; i++) q.add(report(i % 3, i));
  await q.flush();
  const seen = stored(server);
  assert.equal(seen.size, 250);
  assert.ok([...seen.values()].every((n) => n === 1));
  assert.ok(server.state.batches.length <= 4, `${server.state.batches.length} calls for 250 messages`);
  for (const b of server.state.batches) {
    assert.equal(b.kind, BatchKind.LIVE);
    assert.ok(b.chats.reduce((n, c) => n + c.messages.length, 0) <= 100);
    assert.equal(new Set(b.chats.map((c) => c.jid)).size, b.chats.length);
  }
  assert.equal(q.pending, 0);
});

test("a live batch is retried past any count until accepted, with one ID", async (t) => {
  const refusals = [
    new FakeError("unavailable", "down"),
    new FakeError("resource_exhausted", "rate limit; retry after 0.01 s", { "retry-after": "0.01" }),
    new FakeError("internal", "boom"),
    new FakeError("unauthenticated", "signature: stale"),
    new FakeError("unavailable", "down"),
    new FakeError("unavailable", "down"),
  ];
  const { server, spoolDir, logger, lines, api } = await setup(t, {
    syncBatch: (req, n) => {
      if (n <= refusals.length) throw refusals[n - 1];
    },
  });
  const q = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir, logger, flushMs: 1, backoffMs: 1, maxBackoffMs: 20 });
  t.after(() => q.close());
  for (let i = 0; i < 5; i++) q.add(report(i, i));
  await q.flush();
  assert.equal(server.state.calls.size, 1, "every attempt carried the same batch ID");
  assert.equal([...server.state.calls.values()][0], refusals.length + 1);
  assert.equal(stored(server).size, 5);
  assert.ok(lines.some((l) => l.msg.startsWith("Live batch refused; keeping it") && l.code === "Unauthenticated"));
});

test("a sidecar restarted mid-backlog delivers everything, once", async (t) => {
  let up = false;
  const { server, spoolDir, api } = await setup(t, {
    syncBatch: () => {
      if (!up) throw new FakeError("unavailable", "down");
    },
  });
  const first = createLiveQueue({
    api, sessionId: SESSION_ID, spoolDir, logger: captureLogger().logger, flushMs: 1, flushMessages: 10, backlog: 20, backoffMs: 1, maxBackoffMs: 5,
  });
  for (let i = 0; i < 75; i++) first.add(report(i % 7, i));
  assert.equal(first.pending, 75);
  assert.equal(first.inMemory, 20, "past the backlog, reports wait on disk only");
  await waitFor(() => server.state.calls.size > 0, 5_000, "a first attempt");
  await first.close(); // the process stops with 75 messages unsent

  up = true;
  const { logger, lines } = captureLogger();
  const second = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir, logger, flushMs: 1, flushMessages: 10, backlog: 20 });
  t.after(() => second.close());
  assert.equal(second.pending, 75);
  assert.ok(lines.some((l) => l.msg === "Live messages from before the restart are queued again" && l.messages === 75));
  second.add(report(1, 1000));
  await second.flush();
  const seen = stored(server);
  assert.equal(seen.size, 76);
  assert.ok([...seen.values()].every((n) => n === 1), "no message stored twice");
  assert.ok(server.state.batches.every((b) => b.chats.reduce((n, c) => n + c.messages.length, 0) <= 10));
  await second.close();

  // A third start finds nothing left to send.
  const third = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir, logger: captureLogger().logger });
  assert.equal(third.pending, 0);
  await third.close();
});

test("a torn last journal line is skipped and does not swallow the next report", async (t) => {
  const { server, spoolDir, logger, api } = await setup(t);
  const q = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir, logger, flushMs: 1 });
  await q.close();
  fs.appendFileSync(path.join(spoolDir, "live.jsonl"), '{"seq": 1, "chat": {"jid": "155');
  const again = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir, logger, flushMs: 1 });
  again.add(report(1, 1));
  await again.flush();
  await again.close();
  const after = createLiveQueue({ api, sessionId: SESSION_ID, spoolDir, logger, flushMs: 1 });
  assert.equal(after.pending, 0);
  await after.close();
  assert.deepEqual([...stored(server).keys()], ["m1"]);
});
