import { test } from "node:test";
import assert from "node:assert/strict";
import { ChatType, MediaType, ParticipantRole } from "../src/gen/chatsync/v1/chat_pb.js";
import { fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { SyncChatSchema } from "../src/gen/chatsync/v1/sync_pb.js";
import { detectGroupChat, filterChatsByConfig, mapChat, mapLiveChat, mapMessage, mediaTypeOf, truncateUtf8 } from "../src/mapping.js";
import { fakeMessage, makeChats, wid } from "./support/fake-whatsapp.js";

const DAY = 86_400;

test("filterChatsByConfig", async (t) => {
  const now = 1_750_000_000;
  // Deliberately out of order; ages in days.
  const chat = (user, ageDays, server = "c.us") => ({ id: wid(user, server), timestamp: ageDays == null ? undefined : now - ageDays * DAY });
  const chats = [chat("1", 3), chat("2", 0.5), chat("3", 40), chat("4", 10, "g.us"), chat("5", null), { id: wid("status", "broadcast"), timestamp: now }, chat("6", 1)];
  const users = (list) => list.map((c) => c.id.user);
  const cases = [
    { name: "no limits: all storable chats, newest first", config: {}, want: ["2", "6", "1", "4", "3", "5"] },
    { name: "max_chats keeps the newest", config: { maxChats: 3 }, want: ["2", "6", "1"] },
    { name: "sync_window drops older chats and ones never active", config: { syncWindowDays: 7 }, want: ["2", "6", "1"] },
    { name: "window includes its boundary day", config: { syncWindowDays: 10 }, want: ["2", "6", "1", "4"] },
    { name: "both", config: { maxChats: 2, syncWindowDays: 30 }, want: ["2", "6"] },
    { name: "max_chats above the count", config: { maxChats: 100 }, want: ["2", "6", "1", "4", "3", "5"] },
    { name: "zero means unlimited", config: { maxChats: 0, syncWindowDays: 0 }, want: ["2", "6", "1", "4", "3", "5"] },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.deepEqual(users(filterChatsByConfig(chats, c.config, now * 1000)), c.want);
    });
  }
  await t.test("does not reorder the caller's array", () => {
    const before = users(chats);
    filterChatsByConfig(chats, { maxChats: 1 }, now * 1000);
    assert.deepEqual(users(chats), before);
  });
});

test("detectGroupChat", () => {
  assert.equal(detectGroupChat({ isGroup: true, id: wid("1", "c.us") }), true);
  assert.equal(detectGroupChat({ isGroup: false, id: wid("120363", "g.us") }), false, "isGroup wins when set");
  assert.equal(detectGroupChat({ id: wid("120363", "g.us") }), true);
  assert.equal(detectGroupChat({ id: "15551234567@c.us" }), false);
  assert.equal(detectGroupChat(null), false);
});

test("mediaTypeOf", () => {
  const cases = [
    ["chat", false, MediaType.UNSPECIFIED], ["chat", true, MediaType.OTHER], ["image", true, MediaType.IMAGE],
    ["album", true, MediaType.IMAGE], ["video", true, MediaType.VIDEO], ["ptt", true, MediaType.AUDIO],
    ["audio", true, MediaType.AUDIO], ["document", true, MediaType.DOCUMENT], ["sticker", true, MediaType.STICKER],
    ["location", false, MediaType.LOCATION], ["vcard", false, MediaType.CONTACT], ["multi_vcard", false, MediaType.CONTACT],
    ["poll_creation", false, MediaType.OTHER],
  ];
  for (const [type, hasMedia, want] of cases) assert.equal(mediaTypeOf(type, hasMedia), want, type);
});

test("mapMessage", async (t) => {
  const priv = wid("15551234567", "c.us");
  const group = wid("120363041234567890", "g.us");
  await t.test("incoming private message: sender is the chat", () => {
    const m = mapMessage(fakeMessage({ chatId: priv, n: 1, timestamp: 1_700_000_000, body: "hi" }), false);
    assert.equal(m.id, "3EB00000000000000001");
    assert.equal(m.senderJid, "15551234567@s.whatsapp.net");
    assert.equal(m.fromMe, false);
    assert.equal(m.timestamp.seconds, 1_700_000_000n);
    assert.equal(m.text, "hi");
  });
  await t.test("own message: no sender", () => {
    const m = mapMessage(fakeMessage({ chatId: priv, n: 2, timestamp: 1_700_000_000, fromMe: true }), false);
    assert.equal(m.fromMe, true);
    assert.equal(m.senderJid, "");
  });
  await t.test("group message: sender is the author", () => {
    const m = mapMessage(fakeMessage({ chatId: group, n: 3, timestamp: 1_700_000_000, author: "15557654321@c.us" }), true);
    assert.equal(m.senderJid, "15557654321@s.whatsapp.net");
  });
  await t.test("media caption", () => {
    const m = mapMessage(fakeMessage({ chatId: priv, n: 4, timestamp: 1_700_000_000, type: "image", hasMedia: true, body: "look" }), false);
    assert.equal(m.mediaType, MediaType.IMAGE);
    assert.equal(m.text, "look");
  });
  await t.test("a ciphertext is a placeholder only when asked for one", () => {
    const cipher = fakeMessage({ chatId: priv, n: 8, timestamp: 1_750_000_000, type: "ciphertext", body: "" });
    assert.equal(mapMessage(cipher, false), null);
    const m = mapMessage(cipher, false, { waiting: true });
    assert.equal(m.waiting, true);
    assert.equal(m.text, "");
    assert.equal(m.id, cipher.id.id);
    assert.equal(m.timestamp.seconds, 1_750_000_000n);
  });
  await t.test("system messages and broken ones are skipped", () => {
    assert.equal(mapMessage(fakeMessage({ chatId: priv, n: 5, timestamp: 1, type: "e2e_notification" }), false), null);
    assert.equal(mapMessage({ ...fakeMessage({ chatId: priv, n: 6, timestamp: 1 }), id: {} }, false), null);
    assert.equal(mapMessage(fakeMessage({ chatId: priv, n: 7, timestamp: 0 }), false), null);
  });
});

test("history reports carry the chat's state, live reports none", async (t) => {
  const [chat] = makeChats(1, { messages: 1 });
  Object.assign(chat, { unreadCount: 0, archived: false, pinned: false });
  await t.test("history: explicit zeros stay on the wire", async () => {
    const c = await mapChat(chat, { messagesPerChat: 10 });
    const back = fromBinary(SyncChatSchema, toBinary(SyncChatSchema, c));
    assert.equal(back.unreadCount, 0);
    assert.equal(back.archived, false);
    assert.equal(back.pinned, false);
    assert.deepEqual(Object.keys(toJson(SyncChatSchema, c)).filter((k) => ["unreadCount", "archived", "pinned"].includes(k)).sort(), ["archived", "pinned", "unreadCount"]);
  });
  await t.test("live: unset, so the server keeps what it has", async () => {
    Object.assign(chat, { unreadCount: 4, archived: true, pinned: true });
    const c = await mapLiveChat(chat);
    assert.equal(c.jid, "15550000000@s.whatsapp.net");
    assert.equal(c.name, chat.name);
    assert.equal(c.messages.length, 0);
    const json = toJson(SyncChatSchema, c);
    for (const k of ["unreadCount", "archived", "pinned"]) assert.equal(k in json, false, `${k} is on the wire`);
    const back = fromBinary(SyncChatSchema, toBinary(SyncChatSchema, c));
    assert.equal(back.unreadCount, undefined);
    assert.equal(back.archived, undefined);
    assert.equal(back.pinned, undefined);
  });
  assert.equal(await mapLiveChat({ id: "status@broadcast" }), null);
});

test("mapChat", async (t) => {
  const [, , , , groupChat] = makeChats(5, { groupEvery: 5, participants: 4, messages: 3 });
  const [privateChat] = makeChats(1, { messages: 3 });
  await t.test("private chat with contact and messages", async () => {
    const c = await mapChat(privateChat, { messagesPerChat: 10 });
    assert.equal(c.jid, "15550000000@s.whatsapp.net");
    assert.equal(c.type, ChatType.PRIVATE);
    assert.equal(c.contact.phone, "+15550000000");
    assert.equal(c.group, undefined);
    assert.equal(c.messages.length, 3);
    assert.equal(c.lastActivityTime.seconds, BigInt(privateChat.timestamp));
    assert.equal(c.pinned, true);
  });
  await t.test("group chat with metadata and roles", async () => {
    const c = await mapChat(groupChat, { messagesPerChat: 2 });
    assert.equal(c.jid, "120363000000000004@g.us");
    assert.equal(c.type, ChatType.GROUP);
    assert.equal(c.contact, undefined);
    assert.equal(c.group.subject, "Group 4");
    assert.equal(c.group.description, "about group 4");
    assert.equal(c.group.ownerJid, toChatsync(groupChat.owner._serialized));
    assert.deepEqual(c.group.participants.map((p) => p.role), [ParticipantRole.SUPERADMIN, ParticipantRole.ADMIN, ParticipantRole.MEMBER, ParticipantRole.MEMBER]);
    assert.ok(c.group.participants.every((p) => p.jid.endsWith("@s.whatsapp.net") && p.phone.startsWith("+")));
    assert.equal(c.messages.length, 2, "messagesPerChat limits the messages");
    for (const m of c.messages) {
      if (!m.fromMe) assert.ok(c.group.participants.some((p) => p.jid === m.senderJid), "group senders are members");
    }
  });
  await t.test("group metadata only (no GroupChat getters)", async () => {
    const bare = { ...groupChat, participants: undefined, owner: undefined, description: undefined, name: "" };
    const c = await mapChat(bare, { messagesPerChat: 0 });
    assert.equal(c.group.subject, "Group 4");
    assert.equal(c.group.participants.length, 4);
    assert.equal(c.messages.length, 0);
  });
  await t.test("messages outside the sync window are left out", async () => {
    const nowMs = (privateChat.timestamp + 2 * DAY) * 1000;
    assert.equal((await mapChat(privateChat, { messagesPerChat: 10, syncWindowDays: 1 }, nowMs)).messages.length, 0);
    assert.equal((await mapChat(privateChat, { messagesPerChat: 10, syncWindowDays: 3 }, nowMs)).messages.length, 3);
  });
  await t.test("unsupported ids are not mapped", async () => {
    assert.equal(await mapChat({ id: wid("status", "broadcast") }, {}), null);
  });
});

test("truncateUtf8 never splits a character", () => {
  assert.equal(truncateUtf8("héllo", 100), "héllo");
  assert.equal(truncateUtf8("ééé", 5), "éé");
  assert.equal(truncateUtf8("a👋b", 4), "a");
  assert.equal(Buffer.byteLength(truncateUtf8("€".repeat(30_000), 65_536)) <= 65_536, true);
});

function toChatsync(serialized) {
  return serialized.replace("@c.us", "@s.whatsapp.net");
}
