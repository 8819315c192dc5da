#!/usr/bin/env node
// The sidecar's entry point: node src/main.js (env from the shell, or
// node --env-file=.env src/main.js).
import { createSyncApi } from "./api.js";
import { createSidecar } from "./app.js";
import { loadConfig } from "./config.js";
import { createLogger } from "./logger.js";

let config;
try {
  config = loadConfig();
} catch (err) {
  console.error(`chatsync sidecar: ${err.message}`);
  process.exit(2);
}
const logger = createLogger({ sessionId: config.sessionId, level: config.logLevel });

const { default: wwebjs } = await import("whatsapp-web.js");
const { Client, LocalAuth } = wwebjs;
const client = new Client({
  authStrategy: new LocalAuth({ clientId: `chatsync-${config.sessionId}`, dataPath: config.authDir }),
  puppeteer: {
    headless: true,
    ...(config.chromiumPath ? { executablePath: config.chromiumPath } : {}),
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  },
});

const sidecar = createSidecar({ client, config, api: createSyncApi(config), logger });

const shutdown = async (signal) => {
  logger.info({ signal }, "Shutting down");
  await sidecar.close();
  await client.destroy().catch(() => {});
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);

// whatsapp-web.js does not come back by itself after "disconnected" (a
// logout, or the browser page dying). Exit non-zero so the process manager
// (systemd, Kubernetes, pm2) restarts the sidecar: a fresh client reconnects
// with the saved session, or shows a new QR code after a logout.
client.on("disconnected", async (reason) => {
  logger.warn({ reason: String(reason) }, "WhatsApp disconnected; exiting for a restart");
  await sidecar.close();
  await client.destroy().catch(() => {});
  process.exit(1);
});

logger.info({ url: config.url, chromium: config.chromiumPath || "(puppeteer default)" }, "Starting whatsapp-web.js");
try {
  await client.initialize();
} catch (err) {
  logger.error({ error: String(err?.message ?? err) }, "whatsapp-web.js did not start: check CHROMIUM_PATH (a Chromium binary) and that https://web.whatsapp.com is reachable");
  await sidecar.close();
  process.exit(1);
}
