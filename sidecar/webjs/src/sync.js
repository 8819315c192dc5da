// History sync (the seed's NODE-1, NODE-2 and NODE-4) and live messages
// (NODE-3): reads chats from whatsapp-web.js, maps them, and pushes them to
// SyncService.SyncBatch in signed batches.
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import pLimit from "p-limit";
import { ChatType } from "./gen/chatsync/v1/chat_pb.js";
import { BatchKind, ParticipantAction, SyncChatSchema } from "./gen/chatsync/v1/sync_pb.js";
import { SyncBatchRequestSchema } from "./gen/chatsync/v1/sync_service_pb.js";
import { createSyncApi } from "./api.js";
import { createLogger } from "./logger.js";
import { chatState, detectGroupChat, filterChatsByConfig, mapChat, mapLiveChat, mapMessage, truncateUtf8 } from "./mapping.js";
import { callWithRetry, sleep as realSleep, UnauthenticatedError } from "./retry.js";
import { toJid, toWwebjsId } from "./jid.js";

/**
 * @typedef {object} SyncDeps
 * @property {ReturnType<typeof createSyncApi>} [api] SyncService client (default: signed, from config)
 * @property {import("pino").Logger} [logger]
 * @property {(ms: number, signal?: AbortSignal) => Promise<void>} [sleep] pacing and backoff wait
 * @property {() => number} [now] clock in ms
 * @property {AbortSignal} [signal] stops the sync
 * @property {string} [runId] names this sync run in batch IDs (default: from the clock)
 * @property {string} [chatJid] sync only this chat (a ResyncCommand for one chat)
 * @property {() => void} [gc] the GC hint (default: global.gc when node runs with --expose-gc)
 */

/**
 * @typedef {object} SyncSummary
 * @property {string} runId
 * @property {number} total chats selected by the sync config
 * @property {number} synced chats in batches the server acknowledged
 * @property {number} accepted chats the server accepted (rejected ones are in `rejected`)
 * @property {number} rejected
 * @property {number} batches acknowledged batches
 * @property {number} duplicates batches the server had seen before
 * @property {number} failedBatches batches that failed after their retries
 * @property {number} failedChats chats in failed batches
 * @property {number} skipped chats that could not be mapped (unsupported ids)
 * @property {number} unreadable chats WhatsApp Web failed to give (fetchMessages threw) on every try
 * @property {{jid: string, reason: string}[]} unreadableChats those chats, with the last error (at most MAX_REPORTED_CHATS)
 * @property {string | null} stopped "unauthenticated" or "aborted" when the sync stopped early
 * @property {number} durationMs
 */

/** Unreadable chats a summary lists by name; the count goes on. */
export const MAX_REPORTED_CHATS = 100;

/**
 * Reads the session's chats lazily: getChats() once (whatsapp-web.js has no
 * paging), the sync config applied, then one chat at a time, dropping each
 * reference once handed out and hinting the GC every gcInterval chats.
 * @param {{getChats: () => Promise<any[]>, getChatById?: (id: string) => Promise<any>}} client
 * @param {{maxChats?: number, syncWindowDays?: number, gcInterval?: number}} config
 * @param {{onTotal?: (n: number) => void, now?: () => number, gc?: () => void, chatJid?: string}} [opts]
 */
export async function* streamChats(client, config, opts = {}) {
  const gc = opts.gc ?? globalThis.gc;
  let chats;
  if (opts.chatJid) {
    const chat = await client.getChatById(toWwebjsId(opts.chatJid));
    chats = chat ? [chat] : [];
  } else {
    chats = filterChatsByConfig(await client.getChats(), config, (opts.now ?? Date.now)());
  }
  opts.onTotal?.(chats.length);
  const every = config.gcInterval || 50;
  for (let i = 0; i < chats.length; i++) {
    const chat = chats[i];
    chats[i] = undefined; // let the Chat go once it is batched and sent
    yield chat;
    if ((i + 1) % every === 0 && typeof gc === "function") gc();
  }
}

/**
 * Paces reads to at most rate per second: read n is due at start + n/rate.
 * @param {number} rate 0 = unpaced
 * @param {() => number} now
 * @param {(ms: number, signal?: AbortSignal) => Promise<void>} sleep
 */
export function createPacer(rate, now, sleep) {
  let start = -1;
  let n = 0;
  return async (signal) => {
    if (!(rate > 0)) return;
    if (start < 0) start = now();
    const due = start + (n++ * 1000) / rate;
    const wait = due - now();
    if (wait > 0) await sleep(wait, signal);
  };
}

/**
 * A batch ID the server can deduplicate retries by: the same run, index and
 * chats give the same ID; another run gives another.
 * @param {string} sessionId
 * @param {string} runId
 * @param {number} index
 * @param {string[]} jids
 */
export function historyBatchId(sessionId, runId, index, jids) {
  const h = createHash("sha256").update(`${sessionId}\n${runId}\n${index}\n${jids.join(",")}`).digest("hex");
  return `h:${runId}:${String(index).padStart(6, "0")}:${h.slice(0, 16)}`;
}

/** A run ID from the clock: base-36 milliseconds, e.g. "m5x8k2p1". */
export function newRunId(nowMs) {
  return Math.floor(nowMs).toString(36);
}

function resolveDeps(sessionId, config, deps) {
  const cfg = { ...config, sessionId };
  return {
    cfg,
    api: deps.api ?? createSyncApi(cfg),
    logger: deps.logger ?? createLogger({ sessionId, level: cfg.logLevel }),
    sleep: deps.sleep ?? realSleep,
    now: deps.now ?? Date.now,
  };
}

function retryOptions(cfg, signal, sleep, log, batchId) {
  return {
    retries: cfg.retries,
    backoffMs: cfg.backoffMs,
    maxBackoffMs: cfg.maxBackoffMs,
    timeoutMs: cfg.timeoutMs,
    signal,
    sleep,
    onRetry: ({ attempt, error, waitMs }) =>
      log.warn({ batch_id: batchId, attempt, code: codeName(error.code), wait_ms: waitMs, error: error.rawMessage }, "SyncBatch failed, retrying"),
  };
}

/**
 * Syncs the session's chats to chatsync: streams them (sync config applied,
 * newest first), paces reads to config.chatsPerSecond, maps each with its
 * group metadata, participants and newest messages, and sends batches of
 * config.batchSize with at most config.concurrency SyncBatch calls in flight.
 * Each call has config.timeoutMs and config.retries retries with exponential
 * backoff from config.backoffMs (retry-after on resource_exhausted). A
 * refused signature stops the whole sync.
 * @param {any} client a whatsapp-web.js Client (or a fake with getChats)
 * @param {string} sessionId
 * @param {import("./config.js").Config} config
 * @param {SyncDeps} [deps]
 * @returns {Promise<SyncSummary>}
 */
export async function syncAllChats(client, sessionId, config, deps = {}) {
  const { cfg, api, logger, sleep, now } = resolveDeps(sessionId, config, deps);
  const started = now();
  const runId = deps.runId ?? newRunId(started);
  const log = logger.child({ sync_run: runId });
  const stop = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, stop.signal]) : stop.signal;
  /** @type {SyncSummary} */
  const sum = {
    runId, total: 0, synced: 0, accepted: 0, rejected: 0, batches: 0, duplicates: 0,
    failedBatches: 0, failedChats: 0, skipped: 0, unreadable: 0, unreadableChats: [], stopped: null, durationMs: 0,
  };
  const limit = pLimit(cfg.concurrency);
  const pace = createPacer(cfg.chatsPerSecond, now, sleep);
  const inflight = new Set();

  const send = async (chats, index) => {
    const batchId = historyBatchId(sessionId, runId, index, chats.map((c) => c.jid));
    if (signal.aborted) {
      sum.failedBatches++;
      sum.failedChats += chats.length;
      return;
    }
    const t0 = now();
    const req = create(SyncBatchRequestSchema, { sessionId, batchId, kind: BatchKind.HISTORY, chats });
    try {
      const res = await callWithRetry((opts) => api.syncBatch(req, opts), retryOptions(cfg, signal, sleep, log, batchId));
      sum.batches++;
      sum.synced += chats.length;
      sum.accepted += res.acceptedCount;
      sum.rejected += res.rejected.length;
      if (res.duplicate) sum.duplicates++;
      log.info(
        { batch_id: batchId, synced: sum.synced, total: sum.total, accepted: res.acceptedCount, rejected: res.rejected.length, duplicate: res.duplicate, duration_ms: now() - t0 },
        `Synced ${sum.synced}/${sum.total} chats`,
      );
    } catch (err) {
      sum.failedBatches++;
      sum.failedChats += chats.length;
      if (err instanceof UnauthenticatedError) {
        if (!sum.stopped) log.error({ batch_id: batchId, code: "unauthenticated" }, "secret is wrong: SyncBatch was refused as unauthenticated; stopping the sync");
        sum.stopped = "unauthenticated";
        stop.abort(err);
        return;
      }
      if (signal.aborted) return;
      log.error({ batch_id: batchId, code: codeName(err.code), error: err.rawMessage ?? String(err), chats: chats.length }, "SyncBatch failed after retries");
    }
  };

  const dispatch = async (chats, index) => {
    const p = limit(() => send(chats, index)).finally(() => inflight.delete(p));
    inflight.add(p);
    // Backpressure: read no further while two rounds of batches wait, so
    // memory holds at most 2 × concurrency mapped batches.
    while (inflight.size >= cfg.concurrency * 2) await Promise.race(inflight);
  };

  // One chat WhatsApp Web cannot give (whatsapp-web.js's fetchMessages
  // throws for some chats) is tried again with backoff, then reported and
  // left out: the rest of the sync goes on.
  const readChat = async (chat) => {
    const jid = toJid(chat?.id) || String(chat?.id?._serialized ?? "?");
    for (let attempt = 0; ; attempt++) {
      try {
        return await withPhoneOfLid(client, await mapChat(chat, cfg, now()));
      } catch (err) {
        if (signal.aborted) throw err;
        const reason = String(err?.message ?? err).slice(0, 512);
        if (attempt >= cfg.chatRetries) {
          sum.unreadable++;
          if (sum.unreadableChats.length < MAX_REPORTED_CHATS) sum.unreadableChats.push({ jid, reason });
          log.error({ chat_jid: jid, attempts: attempt + 1, error: reason }, "Chat could not be read from WhatsApp Web; left out, the sync goes on");
          return undefined;
        }
        const waitMs = Math.min(cfg.backoffMs * 2 ** attempt, cfg.maxBackoffMs);
        log.warn({ chat_jid: jid, attempt: attempt + 1, wait_ms: waitMs, error: reason }, "Chat could not be read from WhatsApp Web, retrying");
        await sleep(waitMs, signal);
      }
    }
  };

  let batch = [];
  let index = 0;
  try {
    const chats = streamChats(client, cfg, {
      now, gc: deps.gc, chatJid: deps.chatJid,
      onTotal: (n) => {
        sum.total = n;
        log.info({ total: n, batch_size: cfg.batchSize, concurrency: cfg.concurrency, chats_per_second: cfg.chatsPerSecond, chat_jid: deps.chatJid }, "Chat sync started");
      },
    });
    for await (const chat of chats) {
      if (signal.aborted) break;
      await pace(signal);
      const mapped = await readChat(chat);
      if (mapped === undefined) continue; // unreadable, counted
      if (!mapped) {
        sum.skipped++;
        continue;
      }
      batch.push(mapped);
      if (batch.length >= cfg.batchSize) {
        const full = batch;
        batch = [];
        await dispatch(full, index++);
      }
    }
    if (batch.length > 0 && !signal.aborted) await dispatch(batch, index++);
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    while (inflight.size > 0) await Promise.allSettled([...inflight]);
  }
  if (!sum.stopped && signal.aborted) sum.stopped = "aborted";
  sum.durationMs = now() - started;
  const seconds = sum.durationMs / 1000;
  log.info(
    { total: sum.total, synced: sum.synced, accepted: sum.accepted, rejected: sum.rejected, batches: sum.batches, failed_batches: sum.failedBatches, skipped: sum.skipped, unreadable: sum.unreadable, duration_ms: sum.durationMs, chats_per_second: seconds > 0 ? Math.round(sum.synced / seconds) : null, stopped: sum.stopped },
    "Chat sync completed",
  );
  return sum;
}

/**
 * The live report of one incoming or outgoing message: its chat's identity
 * (for groups type, group JID, metadata and participants), no chat state,
 * and the message. Null for messages of chats chatsync does not store
 * (status broadcasts, newsletters) and for system messages. With waiting,
 * the message is a placeholder for a ciphertext (see mapMessage).
 * @param {any} msg a whatsapp-web.js Message
 * @param {{waiting?: boolean}} [opts]
 */
export async function liveReport(msg, opts = {}) {
  const chat = await msg.getChat();
  if (!toJid(chat?.id)) return null;
  const mapped = await withPhoneOfLid(msg.client, await mapLiveChat(chat));
  const m = mapMessage(msg, detectGroupChat(chat), opts);
  if (!mapped || !m) return null;
  mapped.messages.push(m);
  mapped.lastActivityTime = m.timestamp; // both Timestamp messages
  return mapped;
}

/**
 * Maps a change (an edit, a revoke, reactions) for the live queue: the
 * chat's identity, as for a live message, and the change report build
 * returns (given whether the chat is a group); null when either cannot be
 * mapped. The chat's activity is not moved: a change is not a new message.
 * @param {any} chat whatsapp-web.js Chat of the changed message
 * @param {(isGroup: boolean) => any} build
 */
export async function changeReport(chat, build, client) {
  if (!toJid(chat?.id)) return null;
  const mapped = await withPhoneOfLid(client, await mapLiveChat(chat));
  const m = build(detectGroupChat(chat));
  if (!mapped || !m) return null;
  mapped.messages.push(m);
  mapped.lastActivityTime = undefined;
  return mapped;
}

/**
 * A report of a chat's state alone ('chat_archived', 'unread_count'):
 * the chat's identity and its state as WhatsApp Web holds it, no messages
 * and no activity time. Null for chats chatsync does not store.
 * @param {any} chat whatsapp-web.js Chat
 * @param {any} client
 */
export async function stateReport(chat, client) {
  if (!toJid(chat?.id)) return null;
  const mapped = await withPhoneOfLid(client, await mapLiveChat(chat));
  if (!mapped) return null;
  Object.assign(mapped, chatState(chat));
  mapped.lastActivityTime = undefined;
  return mapped;
}

/**
 * Adds the phone JID of a private chat addressed by LID (…@lid) to its
 * contact (alt_jid), from whatsapp-web.js's getContactLidAndPhone: chatsync
 * then keeps the person's one chat under the phone JID instead of a second
 * one. A lookup that fails or finds no phone leaves the chat as it is.
 * @param {any} client whatsapp-web.js Client (may lack the method)
 * @param {any} mapped SyncChat or null
 */
export async function withPhoneOfLid(client, mapped) {
  if (!mapped || !mapped.jid.endsWith("@lid") || typeof client?.getContactLidAndPhone !== "function") return mapped;
  try {
    const [found] = await client.getContactLidAndPhone([mapped.jid]);
    const pn = toJid(found?.pn);
    if (pn && pn.endsWith("@s.whatsapp.net") && mapped.contact) mapped.contact.altJid = pn;
  } catch {
    // The chat is still worth sending: chatsync merges it once a report
    // carries the link.
  }
  return mapped;
}

/**
 * Maps a group notification ('group_join', 'group_leave',
 * 'group_admin_changed', 'group_update') to a live report of the group: the
 * membership changes it names, or its new subject or description. Null for
 * a notification chatsync does not store (picture, settings).
 * @param {any} n whatsapp-web.js GroupNotification
 */
export function mapGroupNotification(n) {
  const jid = toJid(n?.chatId);
  if (!jid.endsWith("@g.us")) return null;
  const actions = {
    add: ParticipantAction.JOIN, invite: ParticipantAction.JOIN, linked_group_join: ParticipantAction.JOIN,
    remove: ParticipantAction.LEAVE, leave: ParticipantAction.LEAVE,
    promote: ParticipantAction.PROMOTE, demote: ParticipantAction.DEMOTE,
  };
  const group = { subject: "", description: "", ownerJid: "", participants: [], participantChanges: [] };
  const action = actions[n.type];
  if (action) {
    let who = (n.recipientIds ?? []).map(toJid).filter((j) => j && !j.endsWith("@g.us"));
    if (who.length === 0 && (n.type === "leave" || n.type === "invite" || n.type === "linked_group_join")) who = [toJid(n.author)].filter(Boolean);
    for (const j of who) group.participantChanges.push({ jid: j, action, phone: j.endsWith("@s.whatsapp.net") ? `+${j.split("@")[0]}` : "" });
    if (group.participantChanges.length === 0) return null;
  } else if (n.type === "subject" && n.body) {
    group.subject = truncateUtf8(n.body, 1024);
  } else if (n.type === "description" && n.body) {
    group.description = truncateUtf8(n.body, 4096);
  } else {
    return null;
  }
  return create(SyncChatSchema, { jid, type: ChatType.GROUP, group, messages: [] });
}

/** The Connect code name of a numeric code, e.g. 14 → "unavailable". */
export function codeName(code) {
  const names = ["ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
    "permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented",
    "internal", "unavailable", "data_loss", "unauthenticated"];
  return names[code] ?? "unknown";
}
