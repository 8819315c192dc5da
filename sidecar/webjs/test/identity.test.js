import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { createSyncApi } from "../src/api.js";
import { createSidecar } from "../src/app.js";
import { ChatType } from "../src/gen/chatsync/v1/chat_pb.js";
import { BatchKind, ParticipantAction, SyncChatSchema } from "../src/gen/chatsync/v1/sync_pb.js";
import { mapGroupNotification, withPhoneOfLid } from "../src/sync.js";
import { startFakeServer } from "./support/fake-server.js";
import { FakeWhatsAppClient, makeChats } from "./support/fake-whatsapp.js";
import { SECRET, SESSION_ID, captureLogger, testConfig, waitFor } from "./support/helpers.js";

// Recorded shape of a whatsapp-web.js 1.34 GroupNotification: type is the
// gp2 subtype, recipientIds the members it is about, author who did it.
const GROUP = "120363000000000009@g.us";
const note = (type, over = {}) => ({
  id: { fromMe: false, remote: GROUP, id: "3EB0N1", _serialized: `false_${GROUP}_3EB0N1` },
  body: "", type, timestamp: 1_750_000_000, chatId: GROUP, author: "15551230009@c.us", recipientIds: [], ...over,
});
const changes = (c) => c.group.participantChanges.map((x) => [x.jid, x.action]);

test("group notifications become membership changes, subject and description", () => {
  assert.deepEqual(changes(mapGroupNotification(note("add", { recipientIds: ["15551230001@c.us", "123456789012345@lid"] }))), [
    ["15551230001@s.whatsapp.net", ParticipantAction.JOIN], ["123456789012345@lid", ParticipantAction.JOIN],
  ]);
  assert.deepEqual(changes(mapGroupNotification(note("leave"))), [["15551230009@s.whatsapp.net", ParticipantAction.LEAVE]], "a leave names its author");
  assert.deepEqual(changes(mapGroupNotification(note("remove", { recipientIds: ["123456789012345@lid"] }))), [["123456789012345@lid", ParticipantAction.LEAVE]]);
  assert.deepEqual(changes(mapGroupNotification(note("promote", { recipientIds: [{ _serialized: "15551230002@c.us" }] }))), [["15551230002@s.whatsapp.net", ParticipantAction.PROMOTE]]);
  assert.deepEqual(changes(mapGroupNotification(note("demote", { recipientIds: ["15551230002@c.us"] }))), [["15551230002@s.whatsapp.net", ParticipantAction.DEMOTE]]);
  const join = mapGroupNotification(note("add", { recipientIds: ["15551230001@c.us"] }));
  assert.equal(join.group.participantChanges[0].phone, "+15551230001");
  assert.equal(join.type, ChatType.GROUP);
  assert.equal(join.group.participants.length, 0, "a change is not a complete member list");
  const renamed = mapGroupNotification(note("subject", { body: "Climbing crew" }));
  assert.equal(renamed.group.subject, "Climbing crew");
  assert.equal(mapGroupNotification(note("description", { body: "Tuesdays" })).group.description, "Tuesdays");
  assert.equal(mapGroupNotification(note("picture")), null);
  assert.equal(mapGroupNotification(note("add")), null, "an add without members");
  assert.equal(mapGroupNotification({ ...note("add", { recipientIds: ["1@c.us"] }), chatId: "15551230001@c.us" }), null, "not a group");
});

test("withPhoneOfLid: a LID chat's contact gets the phone JID whatsapp-web.js knows", async () => {
  const lidChat = () => create(SyncChatSchema, { jid: "123456789012345@lid", type: ChatType.PRIVATE, contact: { jid: "123456789012345@lid" } });
  const asked = [];
  const client = { getContactLidAndPhone: async (ids) => { asked.push(...ids); return [{ lid: "123456789012345@lid", pn: "15551230001@c.us" }]; } };
  const c = await withPhoneOfLid(client, lidChat());
  assert.deepEqual(asked, ["123456789012345@lid"]);
  assert.equal(c.contact.altJid, "15551230001@s.whatsapp.net");
  const failing = { getContactLidAndPhone: async () => { throw new Error("Evaluation failed"); } };
  assert.equal((await withPhoneOfLid(failing, lidChat())).contact.altJid, "", "a failed lookup leaves the chat");
  const none = { getContactLidAndPhone: async () => [{ lid: "123456789012345@lid", pn: undefined }] };
  assert.equal((await withPhoneOfLid(none, lidChat())).contact.altJid, "");
  const phoneChat = create(SyncChatSchema, { jid: "15551230001@s.whatsapp.net", type: ChatType.PRIVATE, contact: { jid: "15551230001@s.whatsapp.net" } });
  asked.length = 0;
  await withPhoneOfLid(client, phoneChat);
  assert.deepEqual(asked, [], "a phone chat needs no lookup");
  assert.equal(await withPhoneOfLid(client, null), null);
});

test("the sidecar reports joins, leaves, promotions and subject changes live", async (t) => {
  const server = await startFakeServer({ sessions: { [SESSION_ID]: SECRET } });
  t.after(() => server.close());
  const config = { ...testConfig(server.url), watchCommands: false };
  const { logger } = captureLogger();
  const client = new FakeWhatsAppClient(makeChats(1, { messages: 0 }));
  const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger });
  t.after(() => sidecar.close());
  client.emit("group_join", note("add", { recipientIds: ["15551230001@c.us"] }));
  client.emit("group_leave", note("remove", { recipientIds: ["123456789012345@lid"] }));
  client.emit("group_admin_changed", note("promote", { recipientIds: ["15551230001@c.us"] }));
  client.emit("group_update", note("picture"));
  client.emit("group_update", note("subject", { body: "Climbing crew" }));
  const live = () => server.state.batches.filter((b) => b.kind === BatchKind.LIVE).flatMap((b) => b.chats);
  await waitFor(() => live().some((c) => c.group?.subject === "Climbing crew"), 5_000, "the group's changes");
  assert.ok(live().every((c) => c.jid === GROUP));
  assert.deepEqual(live().flatMap((c) => changes(c)), [
    ["15551230001@s.whatsapp.net", ParticipantAction.JOIN], ["123456789012345@lid", ParticipantAction.LEAVE], ["15551230001@s.whatsapp.net", ParticipantAction.PROMOTE],
  ]);
});
