// Public API of the sidecar's modules, for tests, benchmarks and harnesses.
export { createSyncApi } from "./api.js";
export { createSidecar } from "./app.js";
export { clientHandlers, runCommand, watchCommands } from "./commands.js";
export { defaultConfig, loadConfig, validateConfig } from "./config.js";
export { phoneOf, toJid, toWwebjsId } from "./jid.js";
export { createLogger } from "./logger.js";
export { createLiveQueue, liveBatch, liveWait } from "./live.js";
export { detectGroupChat, filterChatsByConfig, mapChat, mapGroup, mapLiveChat, mapMessage, mediaTypeOf, truncateUtf8 } from "./mapping.js";
export { callWithRetry, nextWait, retryAfterMs, sleep, UnauthenticatedError } from "./retry.js";
export { createSigningFetch, sign, HEADER_SESSION, HEADER_SIGNATURE, HEADER_TIMESTAMP } from "./signing.js";
export { codeName, createPacer, historyBatchId, newRunId, liveReport, streamChats, syncAllChats } from "./sync.js";
