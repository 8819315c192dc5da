// Wires a whatsapp-web.js client to chatsync: pairing QR in the terminal,
// history sync on 'ready', live messages, and the command stream.
import path from "node:path";
import qrcode from "qrcode-terminal";
import { clientHandlers, watchCommands } from "./commands.js";
import { createLiveQueue } from "./live.js";
import { chatState, mapAck, mapEdit, mapReactions, mapRevoke } from "./mapping.js";
import { toJid } from "./jid.js";
import { SidecarState, createReporter } from "./state.js";
import { changeReport, liveReport, mapGroupNotification, stateReport, syncAllChats } from "./sync.js";

/**
 * @param {object} p
 * @param {any} p.client whatsapp-web.js Client (or a fake EventEmitter with the same methods)
 * @param {import("./config.js").Config} p.config
 * @param {any} p.api signed SyncService client
 * @param {import("pino").Logger} p.logger
 * @param {(qr: string) => void} [p.showQr] defaults to qrcode-terminal
 * @param {(ms: number, signal?: AbortSignal) => Promise<void>} [p.sleep]
 * @param {() => number} [p.now]
 * @param {(summary: import("./sync.js").SyncSummary, chatJid: string) => void} [p.onSynced]
 *   called after each sync (on ready, or for a resync command; chatJid "" = all chats)
 */
export function createSidecar({ client, config, api, logger, showQr, sleep, now, onSynced }) {
  const sessionId = config.sessionId;
  const stop = new AbortController();
  const deps = { api, logger, sleep, now, signal: stop.signal };
  // The sidecar's state goes to chatsync, and chatsync's sync config for
  // the session comes back (with every command stream message too).
  const reporter = createReporter({ api, sessionId, config, logger, sleep, signal: stop.signal });
  // Live messages are journaled, coalesced and sent until accepted; what a
  // stop leaves unsent goes out after the next start.
  const live = createLiveQueue({
    api, sessionId, logger, sleep, now,
    spoolDir: config.liveSpoolDir || path.join(config.authDir, `chatsync-live-${sessionId}`),
    flushMs: config.liveFlushMs, flushMessages: config.liveFlushMessages, backlog: config.liveBacklog,
    timeoutMs: config.timeoutMs, backoffMs: config.backoffMs, maxBackoffMs: config.maxBackoffMs,
  });
  let running = null; // the sync in progress
  let again = false; // a full resync asked for while one runs
  let watching = null; // the command stream's watchCommands, while it runs
  let stopWatching = null; // ends that stream

  const syncOnce = async (chatJid) => {
    const summary = await syncAllChats(client, sessionId, config, chatJid ? { ...deps, chatJid } : deps);
    if (!chatJid && summary.stopped !== "aborted") reporter.report(SidecarState.READY, { lastSync: summary });
    onSynced?.(summary, chatJid);
    return summary;
  };

  /** Runs a full sync, or one chat's; full syncs never overlap. */
  const resync = async (chatJid = "") => {
    if (chatJid) return syncOnce(chatJid);
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        let summary;
        do {
          again = false;
          summary = await syncOnce("");
        } while (again && !stop.signal.aborted && summary.stopped !== "unauthenticated");
        return summary;
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const onLive = (msg, waiting = false) => {
    liveReport(msg, { waiting })
      .then((chat) => chat && live.add(chat))
      .catch((err) => logger.error({ error: String(err?.message ?? err) }, "Live message could not be read from WhatsApp Web"));
  };

  // Edits, revokes and reactions go through the same live queue.
  const onChange = (what, chat, build) => {
    Promise.resolve(chat)
      .then((c) => changeReport(c, build, client))
      .then((report) => report && live.add(report))
      .catch((err) => logger.error({ error: String(err?.message ?? err), change: what }, "Message change could not be read from WhatsApp Web"));
  };

  client.on("qr", (qr) => {
    reporter.report(SidecarState.QR_WANTED);
    logger.info("Scan the QR code with WhatsApp (Settings → Linked devices) to pair this session");
    (showQr ?? ((q) => qrcode.generate(q, { small: true })))(qr);
  });
  client.on("authenticated", () => {
    reporter.report(SidecarState.AUTHENTICATED);
    logger.info("WhatsApp session authenticated");
  });
  client.on("auth_failure", (m) => {
    reporter.report(SidecarState.LOGGED_OUT, { lastError: `authentication failed: ${m}` });
    logger.error({ error: String(m) }, "WhatsApp authentication failed; delete the auth dir and pair again");
  });
  // The command stream is open only while WhatsApp is ready: chatsync
  // counts the session connected (and sends through it) while a stream is
  // open, so a disconnected client closes it and sends fail over at once.
  const watch = () => {
    if (!config.watchCommands || stop.signal.aborted) return;
    if (watching) {
      if (stopWatching.signal.aborted) watching.then(watch); // still closing: reopen after
      return;
    }
    stopWatching = new AbortController();
    watching = watchCommands(clientHandlers(client, resync), {
      ...deps, sessionId, config, signal: AbortSignal.any([stop.signal, stopWatching.signal]), commandSignal: stop.signal,
      onConfig: reporter.onConfig,
    }).finally(() => {
      watching = null;
    });
  };
  client.on("disconnected", (reason) => {
    if (String(reason) === "LOGOUT") reporter.report(SidecarState.LOGGED_OUT, { lastError: "logged out from the phone" });
    else reporter.report(SidecarState.UNREACHABLE, { lastError: `disconnected: ${reason}` });
    logger.warn({ reason: String(reason) }, "WhatsApp disconnected; closing the command stream until it is ready again");
    stopWatching?.abort(new Error("WhatsApp disconnected"));
  });
  client.on("ready", () => {
    reporter.report(SidecarState.READY);
    logger.info("WhatsApp client ready");
    resync()
      .then(() => config.stateDiffMs && afterSync())
      .catch((err) => logger.error({ error: String(err?.message ?? err) }, "Chat sync crashed"));
    watch();
  });
  client.on("message", (msg) => onLive(msg));
  // A message WhatsApp Web could not decrypt yet: a placeholder, which the
  // 'message' event of the decrypted message replaces.
  client.on("message_ciphertext", (msg) => onLive(msg, true));
  // 'message' only fires for incoming messages; own messages sent from the
  // phone arrive as 'message_create'.
  client.on("message_create", (msg) => {
    if (msg.fromMe) onLive(msg);
  });

  client.on("message_edit", (msg, newBody) => onChange("edit", msg.getChat(), () => mapEdit(msg, newBody, now?.() ?? Date.now())));
  client.on("message_revoke_everyone", (msg) => onChange("revoke", msg.getChat(), () => mapRevoke(msg)));
  client.on("message_reaction", (reaction) => {
    const chatId = reaction?.msgId?.remote;
    if (!chatId) return;
    onChange("reaction", client.getChatById(typeof chatId === "string" ? chatId : chatId._serialized),
      () => mapReactions(reaction.msgId, [reaction], now?.() ?? Date.now()));
  });

  // Receipts of my messages (delivered, read, played) are changes of them.
  client.on("message_ack", (msg, ack) => {
    if (!(msg?.fromMe ?? msg?.id?.fromMe)) return;
    onChange("ack", msg.getChat(), () => mapAck(msg, ack));
  });
  // App state WhatsApp Web announces: archiving, and the unread count
  // (read on the phone: 0; marked unread: -1). Each report carries the
  // chat's whole state as WhatsApp Web holds it at that moment, so pin and
  // mute changes ride along (whatsapp-web.js has no event of its own for
  // them; the next history sync brings them otherwise).
  const onState = (what, chat) => {
    Promise.resolve(chat)
      .then((c) => stateReport(c, client))
      .then((report) => report && live.add(report))
      .catch((err) => logger.error({ error: String(err?.message ?? err), change: what }, "Chat state could not be read from WhatsApp Web"));
  };
  client.on("chat_archived", (chat) => onState("archive", chat));
  client.on("unread_count", (chat) => onState("unread", chat));

  // Pin and mute changes have no event in whatsapp-web.js: every
  // stateDiffMs the chats' state (one getChats(), no messages) is compared
  // with the last look, and the chats whose state changed are reported.
  // The first look after each history sync is the baseline.
  let lastStates = null; // jid → JSON of chatState
  const lookAtStates = async () => {
    const now = new Map();
    for (const chat of await client.getChats()) {
      const jid = toJid(chat?.id);
      if (jid) now.set(jid, [chat, JSON.stringify(chatState(chat), (_, v) => (typeof v === "bigint" ? String(v) : v))]);
    }
    const before = lastStates;
    lastStates = new Map([...now].map(([jid, [, st]]) => [jid, st]));
    if (!before) return 0;
    let changed = 0;
    for (const [jid, [chat, st]] of now) {
      if (before.has(jid) && before.get(jid) !== st) {
        changed++;
        onState("diff", chat);
      }
    }
    return changed;
  };
  let diffTimer = null;
  const scheduleDiff = () => {
    if (!config.stateDiffMs || stop.signal.aborted || diffTimer) return;
    diffTimer = setTimeout(() => {
      diffTimer = null;
      lookAtStates()
        .catch((err) => logger.warn({ error: String(err?.message ?? err) }, "Chat states could not be read from WhatsApp Web; trying again later"))
        .finally(scheduleDiff);
    }, config.stateDiffMs);
    diffTimer.unref?.();
  };
  const afterSync = () => {
    lastStates = null;
    lookAtStates().catch(() => {}).finally(scheduleDiff);
  };

  // Membership and subject changes keep the group's participant count and
  // name exact between history syncs.
  const onGroup = (n) => {
    try {
      const report = mapGroupNotification(n);
      if (report) live.add(report);
    } catch (err) {
      logger.error({ error: String(err?.message ?? err) }, "Group change could not be read from WhatsApp Web");
    }
  };
  for (const ev of ["group_join", "group_leave", "group_admin_changed", "group_update"]) client.on(ev, onGroup);

  return {
    resync,
    /** Reports a state to chatsync (see state.js); resolves once sent or given up. */
    report: reporter.report,
    /** Resolves when the sync and the command stream have stopped. */
    async close() {
      // A state reported just before (disconnected, logged out) gets a
      // moment to reach chatsync before the calls are cancelled.
      let grace;
      await Promise.race([reporter.flush(), new Promise((r) => (grace = setTimeout(r, 2_000)))]);
      clearTimeout(grace);
      stop.abort(new Error("sidecar stopping"));
      clearTimeout(diffTimer);
      await Promise.allSettled([running, watching, live.close(), reporter.flush()]);
    },
    get commandStream() {
      return watching;
    },
    /** The live queue (pending, flush). */
    live,
    /** Compares the chats' state with the last look now; resolves to how many changed. */
    lookAtStates,
  };
}
