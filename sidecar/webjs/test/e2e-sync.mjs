#!/usr/bin/env node
// Cross-language harness: syncs 1,000 generated chats (4:1 private:group,
// groups with participants and roles, messages) from a fake whatsapp-web.js
// client through the real sidecar code path to a real chatsync server.
//
//   CHATSYNC_URL=http://127.0.0.1:8080 CHATSYNC_SESSION_ID=1 \
//   CHATSYNC_SIDECAR_SECRET=<64 hex> node test/e2e-sync.mjs
//
// Optional: E2E_CHATS (default 1000), E2E_MESSAGES (per chat, default 2),
// E2E_PARTICIPANTS (per group, default 5), CHATSYNC_CHATS_PER_SECOND
// (default here 0 = unpaced), E2E_RUN_ID (batch ID prefix; the same run ID
// twice exercises server-side deduplication).
//
// Prints one JSON line with what the server must now hold (chats, groups,
// participants, messages, JIDs' checksum) and exits 0 only when every batch
// was accepted without rejections; 1 otherwise; 2 on bad configuration.
import { createHash } from "node:crypto";
import { createSyncApi } from "../src/api.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { filterChatsByConfig, mapChat } from "../src/mapping.js";
import { syncAllChats } from "../src/sync.js";
import { FakeWhatsAppClient, makeChats } from "./support/fake-whatsapp.js";

const env = { CHATSYNC_CHATS_PER_SECOND: "0", CHATSYNC_WATCH_COMMANDS: "false", ...process.env };
let config;
try {
  config = loadConfig(env);
} catch (err) {
  console.error(`e2e-sync: ${err.message}`);
  process.exit(2);
}
const n = Number(env.E2E_CHATS ?? 1000);
const chats = makeChats(n, {
  groupEvery: 5,
  participants: Number(env.E2E_PARTICIPANTS ?? 5),
  messages: Number(env.E2E_MESSAGES ?? 2),
  baseTs: Math.floor(Date.now() / 1000) - 60,
});

// What the server should hold afterwards, from the same mapping the sync uses.
const expected = { chats: 0, groups: 0, privateChats: 0, participants: 0, messages: 0, jidsSha256: "" };
const jids = [];
for (const chat of filterChatsByConfig(chats, config)) {
  const c = await mapChat(chat, config);
  if (!c) continue;
  expected.chats++;
  jids.push(c.jid);
  if (c.group) {
    expected.groups++;
    expected.participants += c.group.participants.length;
  } else {
    expected.privateChats++;
  }
  expected.messages += c.messages.length;
}
expected.jidsSha256 = createHash("sha256").update(jids.sort().join("\n")).digest("hex");

const logger = createLogger({ sessionId: config.sessionId, level: env.CHATSYNC_LOG_LEVEL ?? "warn" });
const summary = await syncAllChats(new FakeWhatsAppClient(chats), config.sessionId, config, {
  api: createSyncApi(config),
  logger,
  runId: env.E2E_RUN_ID,
});
const ok = summary.stopped === null && summary.failedBatches === 0 && summary.rejected === 0 && summary.synced === expected.chats;
console.log(JSON.stringify({ ok, expected, summary }));
process.exit(ok ? 0 : 1);
