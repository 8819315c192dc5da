#!/usr/bin/env node
// Cross-language harness of the app-state issue: a history sync of six
// chats from a fake whatsapp-web.js client (recorded-shape objects), then
// the events WhatsApp Web emits as the phone changes them, through the real
// sidecar code (createSidecar) to a real chatsync server:
//
//   A  archived, then unarchived            (chat_archived ×2)
//   B  archived                             (chat_archived)
//   C  pinned, then a live message arrives  (unread_count carrying pinned, message)
//   D  muted until a time                   (history: isMuted, muteExpiration)
//   E  read on the phone                    (unread_count with 0)
//   F  marked unread                        (unread_count with -1: the dot)
//   G  my message read by the recipient     (message_ack 3)
//
//   CHATSYNC_URL=… CHATSYNC_SESSION_ID=… CHATSYNC_SIDECAR_SECRET=… node test/e2e-appstate.mjs
//
// Prints one JSON line: the chats' JIDs by letter, the mute end, my
// message's ID; exits 0 once every report was accepted.
import { createSyncApi } from "../src/api.js";
import { createSidecar } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { FakeWhatsAppClient, fakeMessage, makeChats } from "./support/fake-whatsapp.js";

const env = { CHATSYNC_CHATS_PER_SECOND: "0", CHATSYNC_WATCH_COMMANDS: "false", CHATSYNC_STATE_DIFF_MS: "0", ...process.env };
let config;
try {
  config = loadConfig(env);
} catch (err) {
  console.error(`e2e-appstate: ${err.message}`);
  process.exit(2);
}
const now = Math.floor(Date.now() / 1000);
const chats = makeChats(7, { groupEvery: 0, messages: 3, baseTs: now - 600 });
for (const c of chats) Object.assign(c, { archived: false, pinned: false, unreadCount: 2, isMuted: false, muteExpiration: 0 });
const [A, B, C, D, E, F, G] = chats;
const mutedUntil = now + 8 * 3600;
Object.assign(D, { isMuted: true, muteExpiration: mutedUntil });
// G's third message is mine (fromMe every third), sent and not yet read.
const gMsgs = await G.fetchMessages({ limit: 3 });
const mine = gMsgs.find((m) => m.fromMe);
mine.ack = 1;

const client = new FakeWhatsAppClient(chats);
const logger = createLogger({ sessionId: config.sessionId, level: env.CHATSYNC_LOG_LEVEL ?? "warn" });
let synced;
const done = new Promise((resolve) => (synced = resolve));
const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger, onSynced: (s) => synced(s) });
client.emit("ready");
const summary = await done;
if (summary.stopped !== null || summary.failedBatches !== 0 || summary.synced !== chats.length) {
  console.error(`e2e-appstate: history sync ${JSON.stringify(summary, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
  process.exit(1);
}

const tick = () => new Promise((r) => setTimeout(r, 50));
// Each step is flushed before the next, so what the server receives does
// not depend on how the live queue happens to coalesce reports.
const step = async (fn) => {
  fn();
  await tick();
  await sidecar.live.flush();
};
await step(() => client.emit("chat_archived", { ...A, archived: true }, true, false));
await step(() => client.emit("chat_archived", { ...A, archived: false }, false, true));
await step(() => client.emit("chat_archived", { ...B, archived: true }, true, false));
await step(() => client.emit("unread_count", { ...C, pinned: true }));
await step(() => client.emitMessage("message", fakeMessage({ chatId: C.id, n: 900, timestamp: now - 5, body: "are you there?" })));
await step(() => client.emit("unread_count", { ...E, unreadCount: 0 }));
await step(() => client.emit("unread_count", { ...F, unreadCount: -1 }));
await step(() => client.emit("message_ack", { ...mine, getChat: async () => G }, 3));
await sidecar.close();
const jid = (c) => `${c.id.user}@s.whatsapp.net`;
console.log(JSON.stringify({
  ok: true, A: jid(A), B: jid(B), C: jid(C), D: jid(D), E: jid(E), F: jid(F), G: jid(G), mutedUntil, mine: mine.id.id,
}));
process.exit(0);
