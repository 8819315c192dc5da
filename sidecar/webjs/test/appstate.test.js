import { test } from "node:test";
import assert from "node:assert/strict";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { createSyncApi } from "../src/api.js";
import { createSidecar } from "../src/app.js";
import { MessageStatus } from "../src/gen/chatsync/v1/chat_pb.js";
import { BatchKind, SyncChatSchema } from "../src/gen/chatsync/v1/sync_pb.js";
import { chatState, mapAck, mapChat, mapHistoryMessage, statusOfAck } from "../src/mapping.js";
import { startFakeServer } from "./support/fake-server.js";
import { FakeWhatsAppClient, fakeMessage, makeChats, wid } from "./support/fake-whatsapp.js";
import { SECRET, SESSION_ID, captureLogger, testConfig, waitFor } from "./support/helpers.js";

const FOREVER = 253402300799n; // 9999-12-31T23:59:59Z

// Recorded shapes of whatsapp-web.js 1.34 Chat state fields: unreadCount
// is -1 for a chat marked unread; muteExpiration is seconds, -1 when muted
// forever.
test("chatState: archived, pinned, muted until, unread count or the marked-unread dot", () => {
  const marked = chatState({ archived: true, pinned: false, unreadCount: -1, isMuted: false, muteExpiration: 0 });
  assert.equal(marked.archived, true);
  assert.equal(marked.markedUnread, true);
  assert.equal(marked.unreadCount, undefined, "marked unread keeps the stored count");
  assert.equal(chatState({ unreadCount: -1 }, true).unreadCount, 0, "in a history report: no count");
  assert.equal(marked.mutedUntil.seconds, 0n, "not muted: the epoch, which unmutes");

  const counted = chatState({ archived: false, pinned: true, unreadCount: 3, isMuted: true, muteExpiration: 1_750_028_800 });
  assert.equal(counted.unreadCount, 3);
  assert.equal(counted.markedUnread, false);
  assert.equal(counted.pinned, true);
  assert.equal(counted.mutedUntil.seconds, 1_750_028_800n);

  assert.equal(chatState({ isMuted: true, muteExpiration: -1 }).mutedUntil.seconds, FOREVER);
  assert.equal(chatState({ isMuted: true, muteExpiration: 1e15 }).mutedUntil.seconds, FOREVER, "past forever is forever");
});

test("history reports carry the state, and my messages their status", async () => {
  const [chat] = makeChats(1, { messages: 3, groupEvery: 0 });
  Object.assign(chat, { unreadCount: -1, isMuted: true, muteExpiration: -1 });
  const msgs = await chat.fetchMessages({ limit: 3 }); // the same objects mapChat reads
  msgs[2].ack = 3; // message 2 is mine (fromMe every third)
  msgs[0].ack = 2; // not mine: an ack of theirs is no status
  const c = fromBinary(SyncChatSchema, toBinary(SyncChatSchema, await mapChat(chat, { messagesPerChat: 10 })));
  assert.equal(c.markedUnread, true);
  assert.equal(c.unreadCount, 0, "a history report of a chat marked unread: the dot, no count");
  assert.equal(c.mutedUntil.seconds, FOREVER);
  const mine = c.messages.find((m) => m.fromMe);
  assert.equal(mine.status, MessageStatus.READ);
  assert.ok(c.messages.filter((m) => !m.fromMe).every((m) => m.status === undefined), "others' messages have no status");

  const [sent] = await mapHistoryMessage({ ...msgs[2], ack: 0 }, false);
  assert.equal(sent.status, undefined, "a pending message has no status yet");
});

test("statusOfAck and mapAck: receipts of my messages only", () => {
  assert.deepEqual([-1, 0, 1, 2, 3, 4].map(statusOfAck), [
    MessageStatus.UNSPECIFIED, MessageStatus.UNSPECIFIED, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.PLAYED,
  ]);
  const chatId = wid("15551234567", "c.us");
  const mine = fakeMessage({ chatId, n: 1, timestamp: 1_750_000_000, fromMe: true });
  const m = mapAck(mine, 3);
  assert.equal(m.id, mine.id.id);
  assert.equal(m.status, MessageStatus.READ);
  assert.equal(m.text, "", "a receipt has no content");
  assert.equal(m.fromMe, true);
  assert.equal(mapAck(fakeMessage({ chatId, n: 2, timestamp: 1_750_000_000 }), 3), null, "not mine");
  assert.equal(mapAck(mine, 0), null, "pending is no status");
  assert.equal(mapAck(mine, -1), null, "an error is no status");
});

test("the sidecar sends receipts, archiving and unread changes as live reports", async (t) => {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET } });
  t.after(() => server.close());
  const config = { ...testConfig(server.url), watchCommands: false };
  const { logger } = captureLogger();
  const chats = makeChats(2, { messages: 1, groupEvery: 0 });
  const client = new FakeWhatsAppClient(chats);
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger });
  t.after(() => sidecar.close());
  const [chat] = chats;
  const mine = { ...fakeMessage({ chatId: chat.id, n: 9, timestamp: 1_750_000_000, fromMe: true }), getChat: async () => chat };
  const theirs = { ...fakeMessage({ chatId: chat.id, n: 10, timestamp: 1_750_000_000 }), getChat: async () => chat };

  client.emit("message_ack", mine, 3);
  client.emit("message_ack", theirs, 3); // not mine: nothing
  client.emit("chat_archived", { ...chat, archived: true }, true, false);
  client.emit("unread_count", { ...chat, archived: true, unreadCount: -1, pinned: true });
  // The live queue coalesces reports of one chat, so the test looks at
  // what they amount to: each later field set replaces the earlier.
  const live = () => server.state.batches.filter((b) => b.kind === BatchKind.LIVE).flatMap((b) => b.chats);
  const state = () => {
    const st = {};
    for (const c of live()) for (const k of ["archived", "pinned", "unreadCount", "markedUnread"]) if (c[k] !== undefined) st[k] = c[k];
    return st;
  };
  await waitFor(() => state().markedUnread === true && live().some((c) => c.messages.length > 0), 5_000, "the receipt and both state reports");
  const reports = live();
  assert.ok(reports.every((c) => c.jid === "15550000000@s.whatsapp.net"), "the chat's reports");
  const acks = reports.flatMap((c) => c.messages);
  assert.deepEqual(acks.map((m) => [m.id, m.status, m.text]), [[mine.id.id, MessageStatus.READ, ""]], "one receipt, of my message");
  assert.deepEqual(state(), { archived: true, pinned: true, unreadCount: 0, markedUnread: true });
  assert.ok(reports.every((c) => c.lastActivityTime === undefined), "state changes do not move the chat");
});

test("pin and mute changes, which have no event, are found by comparing the chats' state", async (t) => {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET } });
  t.after(() => server.close());
  const config = { ...testConfig(server.url), watchCommands: false, stateDiffMs: 0 };
  const { logger } = captureLogger();
  const chats = makeChats(3, { messages: 1, groupEvery: 0 });
  const client = new FakeWhatsAppClient(chats);
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger });
  t.after(() => sidecar.close());

  assert.equal(await sidecar.lookAtStates(), 0, "the first look is the baseline");
  assert.equal(chats[1].pinned, true, "the fake's chat 1 starts pinned");
  Object.assign(chats[1], { pinned: false }); // unpinned on the phone
  Object.assign(chats[2], { isMuted: true, muteExpiration: -1 });
  assert.equal(await sidecar.lookAtStates(), 2);
  assert.equal(await sidecar.lookAtStates(), 0, "unchanged since the last look");
  const live = () => server.state.batches.filter((b) => b.kind === BatchKind.LIVE).flatMap((b) => b.chats);
  await waitFor(() => live().length >= 2, 5_000, "two state reports");
  const byJid = new Map(live().map((c) => [c.jid, c]));
  assert.equal(byJid.get("15550000001@s.whatsapp.net")?.pinned, false);
  assert.equal(byJid.get("15550000002@s.whatsapp.net")?.mutedUntil?.seconds, FOREVER);
  assert.equal(byJid.has("15550000000@s.whatsapp.net"), false, "an unchanged chat is not reported");
  assert.ok(live().every((c) => c.messages.length === 0 && c.lastActivityTime === undefined));
});
