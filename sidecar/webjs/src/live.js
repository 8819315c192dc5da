// Live messages, never dropped: reports are journaled to a local file,
// coalesced into one BATCH_KIND_LIVE batch per flush (flushMs, or
// flushMessages messages), and each batch is sent until the server accepts
// it, with no attempt cap. A restart drains what the journal still holds.
//
// The journal (<spoolDir>/live.jsonl) gets one line per report,
// {"seq": n, "chat": <SyncChat JSON>}, written before the report is queued;
// <spoolDir>/acked.json holds the highest seq the server has accepted.
// Writes are not fsynced: a crash of the process loses nothing, a crash of
// the machine may lose the last reports the kernel had not written yet.
// Memory stays bounded: past `backlog` messages in memory, reports are kept
// only in the journal (their offset) and read back when their turn comes.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { create, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BatchKind, SyncChatSchema } from "./gen/chatsync/v1/sync_pb.js";
import { SyncBatchRequestSchema } from "./gen/chatsync/v1/sync_service_pb.js";
import { retryAfterMs, sleep as realSleep } from "./retry.js";

const TRANSIENT = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Internal, Code.Unknown, Code.ResourceExhausted]);

/** Rewrite the journal once everything in it is accepted and it is this big. */
const COMPACT_BYTES = 1 << 20;

/**
 * The wait before attempt n+1 of a live batch after attempt n failed: the
 * server's retry-after on resource_exhausted, a jittered exponential backoff
 * on transient failures, the longest wait on anything a retry cannot fix
 * (the batch is kept and tried again, never dropped).
 * @param {number} n
 * @param {ConnectError} err
 * @param {{backoffMs: number, maxBackoffMs: number}} policy
 * @param {() => number} [random]
 */
export function liveWait(n, err, { backoffMs, maxBackoffMs }, random = Math.random) {
  const max = maxBackoffMs > 0 ? maxBackoffMs : 300_000;
  if (err.code === Code.ResourceExhausted) {
    const after = retryAfterMs(err);
    if (after != null) return Math.min(after, max);
  }
  if (!TRANSIENT.has(err.code)) return max;
  const d = Math.min(backoffMs * 2 ** Math.min(n - 1, 30), max);
  return Math.round(d / 2 + random() * (d / 2));
}

/** Messages a report counts for in the flush and backlog sizes. */
function weight(chat) {
  return Math.max(chat.messages?.length ?? 0, 1);
}

/**
 * Merges a later group report into an earlier one of the same batch: a
 * complete member list in the later one supersedes the earlier list and the
 * changes before it (it already reflects them); otherwise the changes of
 * both apply in order. Non-empty subject, description and owner of the
 * later one win.
 */
function mergeGroup(earlier, later) {
  if (!earlier) return later;
  const snapshot = later.participants?.length > 0;
  return {
    ...earlier,
    subject: later.subject || earlier.subject,
    description: later.description || earlier.description,
    ownerJid: later.ownerJid || earlier.ownerJid,
    participants: snapshot ? later.participants : earlier.participants,
    participantChanges: snapshot ? [...later.participantChanges] : [...earlier.participantChanges, ...later.participantChanges],
  };
}

/**
 * Coalesces reports into one batch: one SyncChat per chat (messages in
 * order, the newest last activity, the latest identity fields), with an ID
 * derived from the contents.
 * @param {string} sessionId
 * @param {any[]} chats SyncChat messages, oldest first
 */
export function liveBatch(sessionId, chats) {
  const byJid = new Map();
  for (const c of chats) {
    const have = byJid.get(c.jid);
    if (!have) {
      byJid.set(c.jid, { ...c, messages: [...c.messages] });
      continue;
    }
    have.messages.push(...c.messages);
    const at = (t) => (t ? Number(t.seconds) * 1e9 + t.nanos : -1);
    if (at(c.lastActivityTime) > at(have.lastActivityTime)) have.lastActivityTime = c.lastActivityTime;
    for (const k of ["name", "unreadCount", "archived", "pinned", "mutedUntil", "markedUnread", "contact"]) {
      if (c[k] !== undefined) have[k] = c[k];
    }
    if (c.group) have.group = mergeGroup(have.group, c.group);
  }
  const req = create(SyncBatchRequestSchema, { sessionId, kind: BatchKind.LIVE, chats: [...byJid.values()] });
  req.batchId = `l:${createHash("sha256").update(toBinary(SyncBatchRequestSchema, req)).digest("hex").slice(0, 40)}`;
  return req;
}

/**
 * @typedef {object} LiveQueueOptions
 * @property {any} api SyncService client (syncBatch(req, {signal, timeoutMs}))
 * @property {string} sessionId
 * @property {string} spoolDir where the journal lives (created if missing)
 * @property {number} [flushMs] 250
 * @property {number} [flushMessages] 100
 * @property {number} [backlog] messages held in memory before the rest stay on disk only (1000)
 * @property {number} [timeoutMs] per attempt (10 s)
 * @property {number} [backoffMs] first backoff (2 s)
 * @property {number} [maxBackoffMs] longest wait (5 min)
 * @property {import("pino").Logger} logger
 * @property {(ms: number, signal?: AbortSignal) => Promise<void>} [sleep]
 * @property {() => number} [now]
 * @property {(req: any, res: any, addedAt: number[]) => void} [onSent]
 */

/**
 * Starts a live queue: the journal's unaccepted reports (from before a
 * restart) are queued first.
 * @param {LiveQueueOptions} o
 */
export function createLiveQueue(o) {
  const opt = { flushMs: 250, flushMessages: 100, backlog: 1000, timeoutMs: 10_000, backoffMs: 2_000, maxBackoffMs: 300_000, ...o };
  const sleep = opt.sleep ?? realSleep;
  const now = opt.now ?? Date.now;
  const log = opt.logger;
  fs.mkdirSync(opt.spoolDir, { recursive: true });
  const journalPath = path.join(opt.spoolDir, "live.jsonl");
  const ackPath = path.join(opt.spoolDir, "acked.json");

  /** @type {{seq: number, chat?: any, offset: number, length: number, weight: number, addedAt: number}[]} */
  const queue = [];
  let inMemory = 0; // messages of queue items that hold their chat
  let pending = 0; // messages not yet accepted (queue and the batch in flight)
  let acked = 0;
  let seq = 0;
  const stop = new AbortController();
  let timer = null;
  let sending = null;
  const idle = [];

  try {
    const a = JSON.parse(fs.readFileSync(ackPath, "utf8"));
    acked = seq = Number(a.acked) || 0;
  } catch {
    // no acknowledgement yet
  }
  let fd = fs.openSync(journalPath, "a+");
  let size = fs.fstatSync(fd).size;
  restore();

  function restore() {
    if (size === 0) return;
    const buf = fs.readFileSync(journalPath);
    let start = 0;
    let restored = 0;
    while (start < buf.length) {
      let end = buf.indexOf(10, start);
      if (end < 0) end = buf.length; // a torn last line: skipped below
      const line = buf.subarray(start, end);
      const offset = start;
      start = end + 1;
      let rec;
      try {
        rec = JSON.parse(line.toString("utf8"));
      } catch {
        log.warn({ offset }, "Skipping a torn line of the live journal");
        continue;
      }
      seq = Math.max(seq, rec.seq);
      if (rec.seq <= acked) continue;
      const chat = fromJson(SyncChatSchema, rec.chat);
      enqueue({ seq: rec.seq, chat, offset, length: line.length, weight: weight(chat), addedAt: now() });
      restored++;
    }
    if (buf.length > 0 && buf[buf.length - 1] !== 10) {
      // End a torn last line, so the next record starts a line of its own.
      fs.writeSync(fd, "\n", null);
      size += 1;
    }
    if (restored > 0) {
      log.info({ reports: restored, messages: pending }, "Live messages from before the restart are queued again");
      schedule();
    }
  }

  function enqueue(item) {
    if (inMemory + item.weight > opt.backlog && inMemory > 0) {
      delete item.chat; // on disk only until its turn
    } else {
      inMemory += item.weight;
    }
    queue.push(item);
    pending += item.weight;
  }

  // One batch in flight at a time; the next goes flushMs after the first
  // report that waits for it, or at once when a full batch waits.
  function schedule() {
    if (sending || stop.signal.aborted || queue.length === 0) return;
    const full = pending >= opt.flushMessages;
    if (timer && !full) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      sending = sendNext().finally(() => {
        sending = null;
        if (queue.length > 0) schedule();
        else while (idle.length) idle.shift()();
      });
    }, full ? 0 : opt.flushMs);
  }

  function chatOf(item) {
    if (item.chat) return item.chat;
    const buf = Buffer.alloc(item.length);
    fs.readSync(fd, buf, 0, item.length, item.offset);
    return fromJson(SyncChatSchema, JSON.parse(buf.toString("utf8")).chat);
  }

  async function sendNext() {
    {
      // Take the batch in one splice: shift() per report is linear in
      // the queue, which past the backlog can be long.
      let count = 0;
      let n = 0;
      while (count < queue.length && (count === 0 || n + queue[count].weight <= opt.flushMessages)) {
        n += queue[count].weight;
        count++;
      }
      const items = queue.splice(0, count);
      for (const it of items) if (it.chat) inMemory -= it.weight;
      // Bring spilled reports back into memory as room frees up.
      for (const it of queue) {
        if (inMemory >= opt.backlog) break;
        if (!it.chat) {
          it.chat = chatOf(it);
          inMemory += it.weight;
        }
      }
      const req = liveBatch(opt.sessionId, items.map(chatOf));
      let res;
      try {
        res = await sendUntilAccepted(req);
      } catch {
        // Stopped: the journal keeps them for the next start.
        queue.unshift(...items);
        for (const it of items) if (it.chat) inMemory += it.weight;
        return;
      }
      pending -= n;
      acked = items[items.length - 1].seq;
      writeAck();
      opt.onSent?.(req, res, items.map((it) => it.addedAt));
    }
    if (queue.length === 0 && size > COMPACT_BYTES) compact();
  }

  async function sendUntilAccepted(req) {
    const l = log.child({ batch_id: req.batchId });
    for (let attempt = 1; ; attempt++) {
      try {
        return await opt.api.syncBatch(req, { signal: stop.signal, timeoutMs: opt.timeoutMs });
      } catch (e) {
        if (stop.signal.aborted) throw e;
        const err = ConnectError.from(e);
        const waitMs = liveWait(attempt, err, opt);
        const fields = { attempt, code: Code[err.code], wait_ms: waitMs, error: err.rawMessage };
        if (TRANSIENT.has(err.code)) l.warn(fields, "Live batch not accepted; retrying until it is");
        else l.error(fields, "Live batch refused; keeping it and retrying (fix the cause: secret, session, server)");
        await sleep(waitMs, stop.signal);
      }
    }
  }

  function writeAck() {
    const tmp = `${ackPath}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ acked }));
    fs.renameSync(tmp, ackPath);
  }

  function compact() {
    fs.closeSync(fd);
    fs.truncateSync(journalPath, 0);
    fd = fs.openSync(journalPath, "a+");
    size = 0;
  }

  return {
    /**
     * Journals and queues a live report (a SyncChat without state).
     * @param {any} chat
     */
    add(chat) {
      if (stop.signal.aborted) throw new Error("live queue is closed");
      const rec = Buffer.from(`${JSON.stringify({ seq: ++seq, chat: toJson(SyncChatSchema, chat) })}\n`, "utf8");
      const offset = size;
      fs.writeSync(fd, rec, 0, rec.length, null);
      size += rec.length;
      enqueue({ seq, chat, offset, length: rec.length - 1, weight: weight(chat), addedAt: now() });
      schedule();
    },
    /** Messages not yet accepted by the server. */
    get pending() {
      return pending;
    },
    /** Messages held in memory (the rest wait in the journal). */
    get inMemory() {
      return inMemory;
    },
    /** Resolves once everything added so far is accepted. */
    flush() {
      if (pending === 0) return Promise.resolve();
      if (timer && !sending) {
        clearTimeout(timer);
        timer = null;
        sending = null;
        const saved = opt.flushMs;
        opt.flushMs = 0;
        schedule();
        opt.flushMs = saved;
      }
      return new Promise((resolve) => idle.push(resolve));
    },
    /** Stops sending; what is not accepted stays in the journal. */
    async close() {
      if (stop.signal.aborted) return;
      stop.abort(new Error("live queue closing"));
      clearTimeout(timer);
      timer = null;
      await sending?.catch(() => {});
      fs.closeSync(fd);
    },
  };
}
