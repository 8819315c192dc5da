#!/usr/bin/env node
// The sidecar's entry point: node src/main.js (env from the shell, or
// node --env-file=.env src/main.js).
import { createSyncApi } from "./api.js";
import { createSidecar } from "./app.js";
import { loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { clearStaleLock, destroyClient, lockHolder, profileDir } from "./profile.js";
import { sleep } from "./retry.js";
import { SidecarState } from "./state.js";
import { runWithRestarts } from "./supervise.js";

let config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`chatsync sidecar: ${err.message}`);
  process.exit(2);
}
const logger = createLogger({ sessionId: config.sessionId, level: config.logLevel });
const api = createSyncApi(config);
const dir = profileDir(config);

const { default: wwebjs } = await import("whatsapp-web.js");
const { Client, LocalAuth } = wwebjs;

const stop = new AbortController();
const shutdown = (signal) => {
  logger.info({ signal }, "Shutting down");
  stop.abort(new Error(`stopped by ${signal}`));
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);

/**
 * Runs one whatsapp-web.js client until it ends: it fails to start, WhatsApp
 * disconnects it (a logout, the page dying; whatsapp-web.js does not come
 * back by itself), or the sidecar stops. Every way out closes the sync,
 * destroys the browser and clears what it left in the profile.
 */
async function runOnce(signal, markReady) {
  const lock = clearStaleLock(dir);
  if (lock === "live") {
    const h = lockHolder(dir);
    throw new Error(`the browser profile ${dir} is in use by a live process (pid ${h?.pid}): is another sidecar running this session?`);
  }
  if (lock === "cleared") logger.warn({ profile: dir }, "Removed the lock a dead browser left in the profile");
  const client = new Client({
    authStrategy: new LocalAuth({ clientId: `chatsync-${config.sessionId}`, dataPath: config.authDir }),
    puppeteer: {
      headless: true,
      ...(config.chromiumPath ? { executablePath: config.chromiumPath } : {}),
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
  });
  const sidecar = createSidecar({ client, config, api, logger });
  // chatsync shows the state, and answers with the session's sync config
  // before the first sync runs; a chatsync that does not answer within 5 s
  // does not hold WhatsApp Web (and its QR code) back: the env's limits
  // apply until it does.
  await Promise.race([sidecar.report(SidecarState.STARTING), sleep(5_000).catch(() => {})]);
  let onAbort;
  let browserGone;
  let closing = false; // our own teardown closes the browser too
  const ended = new Promise((resolve) => {
    client.on("disconnected", (reason) => {
      logger.warn({ reason: String(reason) }, "WhatsApp disconnected");
      resolve(`disconnected: ${reason}`);
    });
    // whatsapp-web.js says nothing when Chromium crashes or its page dies.
    browserGone = (what) => {
      if (closing) return;
      logger.error({ what }, "The browser went away; starting over");
      sidecar.report(SidecarState.UNREACHABLE, { lastError: what });
      resolve(what);
    };
    onAbort = () => resolve("stopping");
    signal.addEventListener("abort", onAbort, { once: true });
  });
  client.on("ready", markReady);
  try {
    logger.info({ url: config.url, chromium: config.chromiumPath || "(puppeteer default)" }, "Starting whatsapp-web.js");
    const started = client.initialize().then(
      () => {
        client.pupBrowser?.once?.("disconnected", () => browserGone("the browser closed or crashed"));
        client.pupPage?.once?.("error", (err) => browserGone(`the page crashed: ${err?.message ?? err}`));
        return null;
      },
      async (err) => {
        logger.error({ error: String(err?.message ?? err) }, "whatsapp-web.js did not start: check CHROMIUM_PATH (a Chromium binary) and that https://web.whatsapp.com is reachable");
        await sidecar.report(SidecarState.UNREACHABLE, { lastError: String(err?.message ?? err) });
        return `did not start: ${err?.message ?? err}`;
      },
    );
    return (await Promise.race([started.then((failed) => failed ?? ended), ended])) ?? "ended";
  } finally {
    closing = true;
    signal.removeEventListener("abort", onAbort);
    await sidecar.close();
    await destroyClient(client, dir, logger);
  }
}

await runWithRestarts(runOnce, {
  minMs: config.restartMinMs, maxMs: config.restartMaxMs, healthyMs: config.healthyMs,
  signal: stop.signal, logger, sleep, now: Date.now,
});
process.exit(0);
