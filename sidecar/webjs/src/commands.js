// SyncService.WatchCommands: the server pushes ResyncCommand and SendCommand
// to the sidecar over a server stream (signed like every call). The stream
// is reopened with backoff when it drops or goes silent past the heartbeat
// timeout; a refused signature ends the loop.
import { Code, ConnectError } from "@connectrpc/connect";
import { callWithRetry, sleep as realSleep } from "./retry.js";
import { toWwebjsId } from "./jid.js";
import { codeName } from "./sync.js";

/**
 * @typedef {object} CommandHandlers
 * @property {(chatJid: string) => Promise<void>} resync resync one chat, or all when chatJid is ""
 * @property {(chatJid: string, text: string) => Promise<string>} send send text; resolves to the WhatsApp message id
 */

/**
 * Handlers backed by a whatsapp-web.js client. A resync whose sync left
 * chats unsynced, stopped early, or found no such chat fails, so the
 * command's outcome says so instead of reporting success.
 * @param {any} client
 * @param {(chatJid: string) => Promise<import("./sync.js").SyncSummary | void>} resync
 * @returns {CommandHandlers}
 */
export function clientHandlers(client, resync) {
  return {
    resync: async (chatJid) => {
      const s = await resync(chatJid);
      if (!s) return;
      if (s.stopped) throw new Error(`the sync stopped early (${s.stopped}) after ${s.synced} of ${s.total} chats`);
      if (s.failedBatches > 0) {
        throw new Error(`${s.failedChats} of ${s.total} chats were not synced: ${s.failedBatches} SyncBatch calls failed after their retries`);
      }
      if (s.unreadable > 0) {
        const named = (s.unreadableChats ?? []).slice(0, 5).map((c) => `${c.jid} (${c.reason})`).join(", ");
        throw new Error(`${s.unreadable} of ${s.total} chats could not be read from WhatsApp Web and were left out: ${named}`);
      }
      if (chatJid && s.total === 0) throw new Error(`WhatsApp has no chat ${chatJid}`);
    },
    send: async (chatJid, text) => {
      const msg = await client.sendMessage(toWwebjsId(chatJid), text);
      return msg?.id?.id ?? "";
    },
  };
}

/**
 * @typedef {{error: string, messageId: string}} Outcome what CompleteCommand reports
 */

/**
 * Runs one command; never throws: a failure is the outcome's error.
 * @param {any} command a SidecarCommand
 * @param {CommandHandlers} handlers
 * @param {any} log
 * @returns {Promise<Outcome>}
 */
async function perform(command, handlers, log) {
  let error = "";
  let messageId = "";
  try {
    switch (command.command.case) {
      case "resync":
        log.info({ chat_jid: command.command.value.chatJid || undefined }, "Resync requested");
        await handlers.resync(command.command.value.chatJid);
        break;
      case "send":
        messageId = await handlers.send(command.command.value.chatJid, command.command.value.text);
        log.info({ chat_jid: command.command.value.chatJid, message_id: messageId }, "Message sent");
        break;
      default:
        error = `unsupported command ${command.command.case ?? "(none)"}`;
    }
  } catch (err) {
    error = String(err?.message ?? err).slice(0, 1024);
    log.warn({ error }, "Command failed");
  }
  return { error, messageId };
}

/**
 * Reports a command's outcome with CompleteCommand, retried like SyncBatch.
 * @param {any} command
 * @param {Outcome} outcome
 * @param {{api: any, sessionId: string, config: any, sleep?: any, signal?: AbortSignal}} deps
 */
async function complete(command, { error, messageId }, { api, sessionId, config, sleep, signal }) {
  await callWithRetry(
    (opts) => api.completeCommand({ sessionId, commandId: command.commandId, error, messageId }, opts),
    { retries: config.retries, backoffMs: config.backoffMs, maxBackoffMs: config.maxBackoffMs, timeoutMs: config.timeoutMs, signal, sleep },
  );
}

/**
 * Runs one command and reports it with CompleteCommand.
 * @param {any} command a SidecarCommand
 * @param {CommandHandlers} handlers
 * @param {{api: any, sessionId: string, config: any, logger: any, sleep?: any, signal?: AbortSignal}} deps
 */
export async function runCommand(command, handlers, deps) {
  const log = deps.logger.child({ command_id: command.commandId, command: command.command.case });
  await complete(command, await perform(command, handlers, log), deps);
}

/** How many command IDs a watcher remembers to recognise a redelivery. */
const REMEMBERED_COMMANDS = 1000;

/**
 * Watches the session's commands until signal aborts or the server refuses
 * the signature. Commands run one after another, in order, while the stream
 * keeps being read (so heartbeats are never missed behind a long resync).
 * The server delivers a command again on every stream until it is completed,
 * so one queued behind a long resync when the stream reconnects arrives
 * twice: a command ID seen before is not run again (a message is never sent
 * twice), only completed again with its first outcome, which the server
 * accepts as a retry.
 * @param {CommandHandlers} handlers
 * @param {{api: any, sessionId: string, config: import("./config.js").Config, logger: any,
 *   sleep?: (ms: number, signal?: AbortSignal) => Promise<void>, signal?: AbortSignal,
 *   commandSignal?: AbortSignal, onConnected?: () => void, onConfig?: (sc: any, source: string) => void}} deps
 *   signal stops watching; commandSignal (default: signal) stops reporting the
 *   commands already received, which are otherwise completed before this returns
 * @returns {Promise<"aborted" | "unauthenticated">}
 */
export async function watchCommands(handlers, deps) {
  const { api, sessionId, config, logger, signal } = deps;
  const sleep = deps.sleep ?? realSleep;
  const log = logger.child({ stream: "WatchCommands" });
  const completeDeps = { ...deps, sleep, signal: deps.commandSignal ?? signal };
  let queue = Promise.resolve();
  /** @type {Map<string, Promise<Outcome>>} command ID → outcome, oldest first */
  const outcomes = new Map();
  let wait = config.reconnectMs;
  const maxWait = Math.max(config.reconnectMs, 30_000);
  while (!signal?.aborted) {
    const attempt = new AbortController();
    const streamSignal = signal ? AbortSignal.any([signal, attempt.signal]) : attempt.signal;
    let silence;
    const resetSilence = () => {
      clearTimeout(silence);
      silence = setTimeout(() => attempt.abort(new Error("no heartbeat")), config.heartbeatTimeoutMs);
    };
    resetSilence();
    try {
      for await (const res of api.watchCommands({ sessionId }, { signal: streamSignal })) {
        resetSilence();
        if (wait !== config.reconnectMs) log.info("Command stream connected");
        wait = config.reconnectMs;
        deps.onConnected?.();
        if (res.syncConfig) deps.onConfig?.(res.syncConfig, "WatchCommands");
        if (!res.command) continue; // heartbeat
        const cmd = res.command;
        const clog = logger.child({ command_id: cmd.commandId, command: cmd.command.case });
        let outcome = outcomes.get(cmd.commandId);
        if (outcome) {
          clog.info("Command delivered again; completing it with its first outcome");
        } else {
          let settle;
          outcome = new Promise((resolve) => (settle = resolve));
          outcomes.set(cmd.commandId, outcome);
          if (outcomes.size > REMEMBERED_COMMANDS) outcomes.delete(outcomes.keys().next().value);
          queue = queue.then(async () => settle(await perform(cmd, handlers, clog)));
        }
        const reported = outcome;
        queue = queue.then(async () => complete(cmd, await reported, completeDeps)).catch((err) =>
          clog.error({ error: String(err?.message ?? err) }, "CompleteCommand failed"),
        );
      }
      log.info({ wait_ms: wait }, "Command stream ended; reconnecting");
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code === Code.Unauthenticated) {
        log.error({ code: "unauthenticated" }, "secret is wrong: WatchCommands was refused as unauthenticated; not reconnecting");
        clearTimeout(silence);
        await queue;
        return "unauthenticated";
      }
      if (!signal?.aborted) {
        log.warn({ code: codeName(err.code), error: err.rawMessage, wait_ms: wait }, "Command stream dropped; reconnecting");
      }
    } finally {
      clearTimeout(silence);
    }
    try {
      await sleep(wait, signal);
    } catch {
      break;
    }
    wait = Math.min(wait * 2, maxWait);
  }
  await queue;
  return "aborted";
}
