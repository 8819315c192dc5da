import { test } from "node:test";
import assert from "node:assert/strict";
import { createSyncApi } from "../src/api.js";
import { createSidecar } from "../src/app.js";
import { BatchKind } from "../src/gen/chatsync/v1/sync_pb.js";
import { mapChat, mapEdit, mapHistoryMessage, mapReactions, mapRevoke } from "../src/mapping.js";
import { startFakeServer } from "./support/fake-server.js";
import { FakeWhatsAppClient, fakeMessage, makeChats, wid } from "./support/fake-whatsapp.js";
import { SECRET, SESSION_ID, captureLogger, testConfig, waitFor } from "./support/helpers.js";

// Recorded shapes of whatsapp-web.js 1.34 objects (the fields the sidecar
// reads): an edited Message, a Message after 'message_revoke_everyone'
// (type "revoked", same id), and a Reaction of 'message_reaction'
// (msgId is the reacted message's key, senderId the reactor).
const CHAT = "15551234567@c.us";
const edited = {
  id: { fromMe: false, remote: CHAT, id: "3EB0A1", _serialized: `false_${CHAT}_3EB0A1` },
  from: CHAT, fromMe: false, timestamp: 1_750_000_000, type: "chat", body: "two", hasMedia: false,
  latestEditMsgKey: { fromMe: false, remote: CHAT, id: "3EB0E1" }, latestEditSenderTimestampMs: 1_750_000_060_250,
};
const revoked = { id: { fromMe: false, remote: CHAT, id: "3EB0A2", _serialized: `false_${CHAT}_3EB0A2` }, from: CHAT, fromMe: false, timestamp: 1_750_000_010, type: "revoked", body: "" };
const reaction = (over = {}) => ({
  id: { fromMe: false, remote: CHAT, id: "3EB0R1", _serialized: `false_${CHAT}_3EB0R1` },
  orphan: 0, orphanReason: null, timestamp: 1_750_000_120, reaction: "👍", read: false,
  msgId: { fromMe: true, remote: CHAT, id: "3EB0A3", _serialized: `true_${CHAT}_3EB0A3` },
  senderId: CHAT, ack: undefined, ...over,
});

test("mapEdit: the original id, the new text, the sender's edit time", () => {
  const m = mapEdit(edited, "two");
  assert.equal(m.id, "3EB0A1");
  assert.equal(m.text, "two");
  assert.equal(m.timestamp.seconds, 1_750_000_000n);
  assert.equal(m.editTime.seconds, 1_750_000_060n);
  assert.equal(m.editTime.nanos, 250_000_000);
  assert.equal(m.revoked, false);
  const noTime = mapEdit({ ...edited, latestEditSenderTimestampMs: undefined }, "three", 1_750_000_500_000);
  assert.equal(noTime.editTime.seconds, 1_750_000_500n, "without the sender's time, now");
  assert.equal(mapEdit({ ...edited, id: undefined }, "x"), null);
});

test("mapRevoke: the id with revoked and no text", () => {
  const m = mapRevoke(revoked);
  assert.equal(m.id, "3EB0A2");
  assert.equal(m.revoked, true);
  assert.equal(m.text, "");
  assert.equal(mapRevoke({ ...revoked, timestamp: 0 }), null);
});

test("mapReactions: one per sender, the newest; mine has no sender; removal is an empty emoji", () => {
  const m = mapReactions(reaction().msgId, [
    reaction(),
    reaction({ reaction: "😂", timestamp: 1_750_000_180 }),
    reaction({ id: { fromMe: true, remote: CHAT, id: "3EB0R2" }, senderId: "15550000000@c.us", reaction: "", timestamp: 1_750_000_150 }),
    reaction({ senderId: "not a jid" }),
  ]);
  assert.equal(m.id, "3EB0A3");
  assert.equal(m.fromMe, true);
  assert.deepEqual(m.reactions.map((r) => [r.senderJid, r.emoji, Number(r.timestamp.seconds)]), [
    ["15551234567@s.whatsapp.net", "😂", 1_750_000_180],
    ["", "", 1_750_000_150],
  ]);
  assert.equal(mapReactions(reaction().msgId, [reaction({ senderId: "" })]), null);
  assert.equal(mapReactions({}, [reaction()]), null);
});

test("history: a revoked message is a stub and its revoke; an edited one carries its edit; reactions come along", async () => {
  const [stub, revoke] = await mapHistoryMessage(revoked, false);
  assert.equal(stub.id, "3EB0A2");
  assert.equal(stub.text, "");
  assert.equal(stub.revoked, false);
  assert.equal(revoke.revoked, true);
  const [m, edit] = await mapHistoryMessage(edited, false);
  assert.equal(m.text, "two");
  assert.equal(edit.editTime.seconds, 1_750_000_060n);
  const liked = { ...edited, latestEditSenderTimestampMs: undefined, hasReaction: true, getReactions: async () => [{ id: "👍", aggregateEmoji: "👍", hasReactionByMe: false, senders: [reaction({ msgId: edited.id })] }] };
  const [, r] = await mapHistoryMessage(liked, false);
  assert.equal(r.id, "3EB0A1");
  assert.equal(r.reactions[0].emoji, "👍");
  const broken = { ...liked, getReactions: async () => { throw new Error("Evaluation failed"); } };
  assert.equal((await mapHistoryMessage(broken, false)).length, 1, "a message whose reactions cannot be read is still synced");

  const chat = { id: wid("15551234567", "c.us"), name: "Ann", timestamp: 1_750_000_200, fetchMessages: async () => [edited, revoked] };
  const c = await mapChat(chat, { messagesPerChat: 10 }, 1_750_000_300_000);
  assert.deepEqual(c.messages.map((x) => [x.id, x.text, x.revoked, x.editTime !== undefined]), [
    ["3EB0A1", "two", false, false], ["3EB0A2", "", false, false], ["3EB0A1", "two", false, true], ["3EB0A2", "", true, false],
  ]);
});

test("the sidecar sends edits, revokes and reactions as live reports", async (t) => {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET } });
  t.after(() => server.close());
  const config = { ...testConfig(server.url), watchCommands: false };
  const { logger } = captureLogger();
  const chats = makeChats(3, { messages: 1, groupEvery: 0 });
  const client = new FakeWhatsAppClient(chats);
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger });
  t.after(() => sidecar.close());
  const chatId = chats[0].id;
  const orig = fakeMessage({ chatId, n: 7, timestamp: 1_750_000_000, body: "one" });
  const withChat = (m) => ({ ...m, getChat: async () => chats[0] });

  client.emit("message_edit", withChat({ ...orig, body: "two", latestEditSenderTimestampMs: 1_750_000_060_000 }), "two", "one");
  client.emit("message_revoke_everyone", withChat({ ...orig, type: "revoked", body: "" }), undefined);
  client.emit("message_reaction", reaction({ msgId: orig.id, senderId: chatId._serialized }));
  const live = () => server.state.batches.filter((b) => b.kind === BatchKind.LIVE).flatMap((b) => b.chats);
  await waitFor(() => live().flatMap((c) => c.messages).length === 3, 5_000, "three change reports");
  const reports = live();
  assert.ok(reports.every((c) => c.jid === "15550000000@s.whatsapp.net"), "the changed message's chat");
  const msgs = reports.flatMap((c) => c.messages);
  assert.ok(msgs.every((m) => m.id === orig.id.id), "every change names the original message");
  assert.ok(msgs.some((m) => m.text === "two" && m.editTime?.seconds === 1_750_000_060n));
  assert.ok(msgs.some((m) => m.revoked));
  assert.ok(msgs.some((m) => m.reactions.length === 1 && m.reactions[0].emoji === "👍"));
  assert.ok(reports.every((c) => c.lastActivityTime === undefined), "a change does not move the chat");
});
