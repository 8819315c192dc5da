// Configuration from the environment. Every limit has the seed's default
// (syncConfig.js): batches of 50, 5 concurrent calls, 10 chats/s, 10 s per
// call, 3 retries with exponential backoff from 2 s, a GC hint every 50 chats.

/**
 * @typedef {object} Config
 * @property {string} url chatsync base URL, e.g. "http://127.0.0.1:8080"
 * @property {string} sessionId the session's ID (decimal digits)
 * @property {string} secret the session's sidecar secret (64 hex chars)
 * @property {"binary"|"json"} protocol Connect with binary protobuf or JSON
 * @property {number} batchSize chats per SyncBatch call (1–500)
 * @property {number} concurrency SyncBatch calls in flight at most
 * @property {number} chatsPerSecond chats read per second at most; 0 = unpaced
 * @property {number} timeoutMs per-attempt timeout
 * @property {number} retries retries after the first attempt
 * @property {number} chatRetries retries of reading one chat from WhatsApp Web before it is reported and left out
 * @property {number} backoffMs wait before the first retry; doubles each time
 * @property {number} maxBackoffMs cap of one wait (backoff or retry-after)
 * @property {number} maxChats newest chats to sync; 0 = all
 * @property {number} syncWindowDays only chats active in the last N days; 0 = all
 * @property {number} messagesPerChat newest messages sent with each chat (≤ 1000)
 * @property {number} gcInterval call global.gc (if exposed) every N chats
 * @property {number} reconnectMs first wait before reopening the command stream
 * @property {number} heartbeatTimeoutMs reopen the command stream after this much silence
 * @property {boolean} watchCommands subscribe to WatchCommands
 * @property {string} chromiumPath system Chromium for Puppeteer
 * @property {string} authDir where whatsapp-web.js keeps the paired session
 * @property {string} logLevel pino level
 * @property {number} liveFlushMs live messages wait this long to share a batch
 * @property {number} liveFlushMessages a live batch holds at most this many messages (sent at once when full)
 * @property {number} liveBacklog live messages held in memory; past it they wait in the journal only
 * @property {string} liveSpoolDir the live journal's directory ("" = <authDir>/chatsync-live-<session>)
 * @property {number} restartMinMs first wait before starting WhatsApp Web again after it ended or failed to start, doubling
 * @property {number} restartMaxMs cap of that wait
 * @property {number} healthyMs a client ready this long starts the restart wait over from restartMinMs
 * @property {number} stateDiffMs compare every chat's state (pinned, muted, archived, unread) with the last
 *   look this often and report the chats that changed (0 = off)
 */

/** @returns {Config} the defaults, without credentials */
export function defaultConfig() {
  return {
    url: "http://127.0.0.1:8080",
    sessionId: "",
    secret: "",
    protocol: "binary",
    batchSize: 50,
    concurrency: 5,
    chatsPerSecond: 10,
    timeoutMs: 10_000,
    retries: 3,
    chatRetries: 3,
    backoffMs: 2_000,
    maxBackoffMs: 300_000,
    maxChats: 0,
    syncWindowDays: 0,
    messagesPerChat: 100,
    gcInterval: 50,
    reconnectMs: 1_000,
    heartbeatTimeoutMs: 45_000,
    watchCommands: true,
    chromiumPath: "",
    authDir: ".wwebjs_auth",
    logLevel: "info",
    liveFlushMs: 250,
    liveFlushMessages: 100,
    liveBacklog: 1000,
    liveSpoolDir: "",
    stateDiffMs: 60_000,
    restartMinMs: 1_000,
    restartMaxMs: 300_000,
    healthyMs: 60_000,
  };
}

const ints = {
  CHATSYNC_BATCH_SIZE: ["batchSize", 1, 500],
  CHATSYNC_CONCURRENCY: ["concurrency", 1, 100],
  CHATSYNC_CHATS_PER_SECOND: ["chatsPerSecond", 0, 1e6],
  CHATSYNC_TIMEOUT_MS: ["timeoutMs", 1, 3_600_000],
  CHATSYNC_RETRIES: ["retries", 0, 100],
  CHATSYNC_CHAT_RETRIES: ["chatRetries", 0, 100],
  CHATSYNC_BACKOFF_MS: ["backoffMs", 0, 3_600_000],
  CHATSYNC_MAX_BACKOFF_MS: ["maxBackoffMs", 0, 3_600_000],
  CHATSYNC_MAX_CHATS: ["maxChats", 0, 1e9],
  CHATSYNC_SYNC_WINDOW_DAYS: ["syncWindowDays", 0, 36_500],
  CHATSYNC_MESSAGES_PER_CHAT: ["messagesPerChat", 0, 1000],
  CHATSYNC_GC_INTERVAL: ["gcInterval", 1, 1e9],
  CHATSYNC_RECONNECT_MS: ["reconnectMs", 0, 3_600_000],
  CHATSYNC_HEARTBEAT_TIMEOUT_MS: ["heartbeatTimeoutMs", 1, 3_600_000],
  CHATSYNC_LIVE_FLUSH_MS: ["liveFlushMs", 0, 60_000],
  CHATSYNC_LIVE_FLUSH_MESSAGES: ["liveFlushMessages", 1, 1000],
  CHATSYNC_LIVE_BACKLOG: ["liveBacklog", 1, 1e7],
  CHATSYNC_STATE_DIFF_MS: ["stateDiffMs", 0, 86_400_000],
  CHATSYNC_RESTART_MIN_MS: ["restartMinMs", 0, 3_600_000],
  CHATSYNC_RESTART_MAX_MS: ["restartMaxMs", 0, 86_400_000],
  CHATSYNC_HEALTHY_MS: ["healthyMs", 0, 86_400_000],
};

/**
 * Reads the configuration from env (process.env by default) and checks it.
 * @param {Record<string, string | undefined>} [env]
 * @returns {Config}
 */
export function loadConfig(env = process.env) {
  const c = defaultConfig();
  c.url = env.CHATSYNC_URL || c.url;
  c.sessionId = env.CHATSYNC_SESSION_ID ?? "";
  c.secret = env.CHATSYNC_SIDECAR_SECRET ?? "";
  c.protocol = /** @type {"binary"|"json"} */ (env.CHATSYNC_PROTOCOL || c.protocol);
  c.chromiumPath = env.CHROMIUM_PATH ?? "";
  c.authDir = env.CHATSYNC_AUTH_DIR || c.authDir;
  c.logLevel = env.CHATSYNC_LOG_LEVEL || c.logLevel;
  c.liveSpoolDir = env.CHATSYNC_LIVE_SPOOL_DIR || c.liveSpoolDir;
  if (env.CHATSYNC_WATCH_COMMANDS) c.watchCommands = !/^(0|false|no|off)$/i.test(env.CHATSYNC_WATCH_COMMANDS);
  for (const [name, [key, min, max]] of Object.entries(ints)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new Error(`${name}=${raw}: want a number from ${min} to ${max}`);
    }
    c[key] = n;
  }
  validateConfig(c);
  return c;
}

/**
 * Checks the fields a sync needs.
 * @param {Config} c
 */
export function validateConfig(c) {
  if (!/^https?:\/\//.test(c.url)) throw new Error(`CHATSYNC_URL=${c.url}: want http:// or https://`);
  if (!/^[0-9]{1,19}$/.test(c.sessionId)) throw new Error("CHATSYNC_SESSION_ID: want the session's numeric ID");
  if (!c.secret) throw new Error("CHATSYNC_SIDECAR_SECRET is required (CreateSession or RotateSessionSecret shows it once)");
  if (c.protocol !== "binary" && c.protocol !== "json") throw new Error(`CHATSYNC_PROTOCOL=${c.protocol}: want binary or json`);
}
