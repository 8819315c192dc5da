#!/usr/bin/env node
// Cross-language harness of the command channel: the real sidecar
// (createSidecar: sync on ready, WatchCommands, CompleteCommand, signed) on
// a fake whatsapp-web.js client, against a real chatsync server.
//
//   CHATSYNC_URL=http://127.0.0.1:8080 CHATSYNC_SESSION_ID=1 \
//   CHATSYNC_SIDECAR_SECRET=<64 hex> node test/e2e-commands.mjs
//
// Optional: E2E_CHATS (chats the fake client has at start, default 20),
// E2E_EXTRA_CHATS (chats "add_chats" adds later, default 5),
// CHATSYNC_CHATS_PER_SECOND (default here 0 = unpaced), CHATSYNC_LOG_LEVEL
// (default warn; pino logs go to stderr).
//
// stdout carries only JSON lines, one per thing that happened, so a test
// can wait for them:
//   {"event":"started","jids":[…]}                  the fake client's chats; "ready" is emitted next
//   {"event":"stream","n":1}                        the n-th WatchCommands stream delivered its first message
//   {"event":"stream_closed","n":1}
//   {"event":"command","commandId":"7","kind":"send","chatJid":"…"}   every delivery, redeliveries included
//   {"event":"synced","chatJid":"","total":20,"synced":20,…}           a sync ended (on ready, or a resync command)
//   {"event":"sent","chatId":"1555…@c.us","text":"…","messageId":"3EB0SENT0"}  the fake client sent
//   {"event":"send_failed","chatId":"…","error":"…"}                   the fake client refused to send
//   {"event":"completed","commandId":"7","error":"","messageId":"…"}  CompleteCommand succeeded
//   {"event":"complete_failed","commandId":"7","code":"…","error":"…"}
//   {"event":"ack","do":"…",…}                      a control line was applied
//   {"event":"error","error":"…"}                   a bad control line, or a crash (exit 1)
//   {"event":"exit","streams":2,"sent":1}           last line, on "exit", SIGTERM/SIGINT or stdin EOF
//
// stdin takes control lines, one JSON object each:
//   {"do":"add_chats"}                   the E2E_EXTRA_CHATS chats appear in WhatsApp (ack: their jids)
//   {"do":"rename","jid":"…","name":"…"} a chat (or group subject) changes its name
//   {"do":"fail_sends","error":"…"}      sendMessage throws that error from now on ("" = sends work again)
//   {"do":"exit"}                        stop the sidecar and exit 0
// The harness also exits when stdin closes, so it never outlives its test.
import { createInterface } from "node:readline";
import { ConnectError } from "@connectrpc/connect";
import { createSyncApi } from "../src/api.js";
import { createSidecar } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { toJid } from "../src/jid.js";
import { createLogger } from "../src/logger.js";
import { codeName } from "../src/sync.js";
import { FakeWhatsAppClient, makeChats } from "./support/fake-whatsapp.js";

const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

const env = { CHATSYNC_CHATS_PER_SECOND: "0", ...process.env };
let config;
try {
  config = loadConfig(env);
} catch (err) {
  console.error(`e2e-commands: ${err.message}`);
  process.exit(2);
}
config.watchCommands = true;
const n = Number(env.E2E_CHATS ?? 20);
const extra = Number(env.E2E_EXTRA_CHATS ?? 5);
const all = makeChats(n + extra, { groupEvery: 5, participants: 3, messages: 1, baseTs: Math.floor(Date.now() / 1000) - 3600 });
const client = new FakeWhatsAppClient(all.slice(0, n));
const jidsOf = (chats) => chats.map((c) => toJid(c.id));

let failWith = "";
const sendMessage = client.sendMessage.bind(client);
client.sendMessage = async (chatId, text) => {
  if (failWith) {
    emit("send_failed", { chatId, error: failWith });
    throw new Error(failWith);
  }
  const msg = await sendMessage(chatId, text);
  emit("sent", { chatId, text, messageId: msg.id.id });
  return msg;
};

// The real signed client, observed: each stream, delivery and completion
// becomes an event line.
const real = createSyncApi(config);
let streams = 0;
const api = {
  syncBatch: (req, opts) => real.syncBatch(req, opts),
  async *watchCommands(req, opts) {
    const k = ++streams;
    let first = true;
    try {
      for await (const res of real.watchCommands(req, opts)) {
        if (first) emit("stream", { n: k });
        first = false;
        const c = res.command;
        if (c) emit("command", { commandId: c.commandId, kind: c.command.case, chatJid: c.command.value?.chatJid ?? "" });
        yield res;
      }
    } finally {
      emit("stream_closed", { n: k });
    }
  },
  async completeCommand(req, opts) {
    try {
      const res = await real.completeCommand(req, opts);
      emit("completed", { commandId: req.commandId, error: req.error, messageId: req.messageId });
      return res;
    } catch (e) {
      const err = ConnectError.from(e);
      emit("complete_failed", { commandId: req.commandId, code: codeName(err.code), error: err.rawMessage });
      throw e;
    }
  },
};

const logger = createLogger({
  sessionId: config.sessionId,
  level: env.CHATSYNC_LOG_LEVEL ?? "warn",
  destination: { write: (s) => process.stderr.write(s) },
});
const sidecar = createSidecar({
  client, config, api, logger,
  showQr: () => {},
  onSynced: (s, chatJid) =>
    emit("synced", { chatJid, runId: s.runId, total: s.total, synced: s.synced, accepted: s.accepted, rejected: s.rejected, failedBatches: s.failedBatches, stopped: s.stopped }),
});

let exiting = false;
async function exit(code) {
  if (exiting) return;
  exiting = true;
  await sidecar.close();
  emit("exit", { streams, sent: client.sent.length });
  process.exit(code);
}
process.once("SIGTERM", () => exit(0));
process.once("SIGINT", () => exit(0));
process.on("unhandledRejection", (err) => {
  emit("error", { error: String(err?.stack ?? err) });
  exit(1);
});

const control = {
  add_chats() {
    const added = all.slice(client.chats.length);
    client.chats.push(...added);
    return { jids: jidsOf(added) };
  },
  rename({ jid, name }) {
    const chat = client.chats.find((c) => toJid(c.id) === jid);
    if (!chat) throw new Error(`no chat ${jid}`);
    chat.name = name;
    if (chat.groupMetadata) chat.groupMetadata.subject = name;
    return { jid, name };
  },
  fail_sends({ error }) {
    failWith = String(error ?? "");
    return { error: failWith };
  },
  exit() {
    exit(0);
    return {};
  },
};
createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (!line.trim()) return;
    try {
      const req = JSON.parse(line);
      const fn = Object.hasOwn(control, req.do) ? control[req.do] : null;
      if (!fn) throw new Error(`unknown control ${JSON.stringify(req.do)}`);
      emit("ack", { do: req.do, ...fn(req) });
    } catch (err) {
      emit("error", { error: `control line ${JSON.stringify(line)}: ${err.message}` });
    }
  })
  .on("close", () => exit(0));

emit("started", { sessionId: config.sessionId, jids: jidsOf(client.chats) });
client.emit("ready");
