// The sidecar's own state as chatsync shows it (ReportSidecarState), and
// the session's sync config chatsync answers with: the env's limits are
// only defaults until chatsync says otherwise.
import { callWithRetry } from "./retry.js";
import { truncateUtf8 } from "./mapping.js";

export { SidecarState } from "./gen/chatsync/v1/session_pb.js";

/** The sync config fields chatsync owns. */
const OWNED = ["maxChats", "syncWindowDays", "messagesPerChat"];

/**
 * The env's values of the fields chatsync owns, remembered on the config
 * the first time (the config object is then changed in place).
 * @param {import("./config.js").Config & {envSyncConfig?: any}} config
 */
function envDefaults(config) {
  config.envSyncConfig ??= Object.fromEntries(OWNED.map((k) => [k, config[k]]));
  return config.envSyncConfig;
}

/**
 * Applies the session's sync config from chatsync to config, in place:
 * max_chats and sync_window_days as they are (0 is "no limit"),
 * messages_per_chat when set (0 keeps the env's value, whose default is
 * chatsync's, 100). Returns whether anything changed.
 * @param {import("./config.js").Config} config
 * @param {{maxChats: number, syncWindowDays: number, messagesPerChat: number} | undefined} sc
 */
export function applySyncConfig(config, sc) {
  if (!sc) return false;
  const defaults = envDefaults(config);
  const next = {
    maxChats: sc.maxChats,
    syncWindowDays: sc.syncWindowDays,
    messagesPerChat: sc.messagesPerChat > 0 ? Math.min(sc.messagesPerChat, 1000) : defaults.messagesPerChat,
  };
  const changed = OWNED.some((k) => config[k] !== next[k]);
  Object.assign(config, next);
  return changed;
}

/**
 * A finished sync's summary as ReportSidecarState takes it.
 * @param {import("./sync.js").SyncSummary} s
 */
export function syncReport(s) {
  return {
    total: s.total, synced: s.synced, unreadableChatCount: s.unreadable ?? 0,
    unreadableChats: (s.unreadableChats ?? []).slice(0, 100).map((c) => ({ chatJid: c.jid.slice(0, 128), reason: truncateUtf8(c.reason, 512) })),
  };
}

/**
 * Reports states to chatsync, one at a time and in order. A state is not
 * data: a report is retried like a SyncBatch (config.retries) and then
 * given up with a warning, the next state superseding it. Each answer's
 * sync config is applied (onConfig).
 * @param {{api: any, sessionId: string, config: import("./config.js").Config, logger: any,
 *   sleep?: (ms: number, signal?: AbortSignal) => Promise<void>, signal?: AbortSignal}} deps
 */
export function createReporter({ api, sessionId, config, logger, sleep, signal }) {
  envDefaults(config);
  let chain = Promise.resolve();
  const onConfig = (sc, source) => {
    if (applySyncConfig(config, sc)) {
      logger.info({ max_chats: config.maxChats, sync_window_days: config.syncWindowDays, messages_per_chat: config.messagesPerChat, source },
        "Sync config from chatsync");
    }
  };
  /**
   * @param {number} state a SidecarState
   * @param {{lastError?: string, lastSync?: import("./sync.js").SyncSummary}} [o]
   * @returns {Promise<void>} once chatsync has it, or it was given up
   */
  const report = (state, { lastError = "", lastSync } = {}) => {
    const req = { sessionId, state, lastError: truncateUtf8(lastError, 1024), lastSync: lastSync ? syncReport(lastSync) : undefined };
    chain = chain.then(async () => {
      try {
        const res = await callWithRetry((opts) => api.reportSidecarState(req, opts), {
          retries: config.retries, backoffMs: config.backoffMs, maxBackoffMs: config.maxBackoffMs, timeoutMs: config.timeoutMs, signal, sleep,
        });
        onConfig(res.syncConfig, "ReportSidecarState");
      } catch (err) {
        logger.warn({ state, error: String(err?.rawMessage ?? err?.message ?? err) }, "Sidecar state could not be reported to chatsync");
      }
    });
    return chain;
  };
  /** Resolves when the reports made so far are sent or given up. */
  const flush = () => chain;
  return { report, onConfig, flush };
}
