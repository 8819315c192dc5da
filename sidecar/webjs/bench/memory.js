#!/usr/bin/env node
// Memory check (the seed's NODE-1 validation): syncs N fake chats through the
// real code path (streamChats → mapChat → batches → signed Connect calls)
// against the fake server in another process, and prints the sidecar's peak
// heap. Run with the seed's flags:
//   node --expose-gc --max-old-space-size=512 bench/memory.js 1000
// BENCH_MESSAGES (per chat, default 10), BENCH_PARTICIPANTS (per group,
// default 20), CHATSYNC_CHATS_PER_SECOND (default 0 = unpaced).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createSyncApi } from "../src/api.js";
import { defaultConfig } from "../src/config.js";
import { createLogger } from "../src/logger.js";
import { syncAllChats } from "../src/sync.js";
import { FakeWhatsAppClient, makeChats } from "../test/support/fake-whatsapp.js";

const n = Number(process.argv[2] ?? 1000);
const sessionId = "1";
const secret = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const mb = (b) => (b / 2 ** 20).toFixed(1);
const gc = () => globalThis.gc?.();

const child = spawn(process.execPath, [fileURLToPath(new URL("../test/support/fake-server-cli.mjs", import.meta.url)), sessionId, secret], {
  stdio: ["ignore", "pipe", "inherit"],
});
const [url] = await once(createInterface({ input: child.stdout }), "line");

gc();
const base = process.memoryUsage();
const client = new FakeWhatsAppClient(makeChats(n, {
  groupEvery: 5,
  participants: Number(process.env.BENCH_PARTICIPANTS ?? 20),
  messages: Number(process.env.BENCH_MESSAGES ?? 10),
  bodyBytes: 100,
  baseTs: Math.floor(Date.now() / 1000),
}));
gc();
const withData = process.memoryUsage();

let peakHeap = 0;
let peakRss = 0;
const sample = () => {
  const m = process.memoryUsage();
  peakHeap = Math.max(peakHeap, m.heapUsed);
  peakRss = Math.max(peakRss, m.rss);
};
const timer = setInterval(sample, 5);
const config = {
  ...defaultConfig(),
  url,
  sessionId,
  secret,
  chatsPerSecond: Number(process.env.CHATSYNC_CHATS_PER_SECOND ?? 0),
  messagesPerChat: 10,
};
const logger = createLogger({ sessionId, level: "warn" });
const t0 = performance.now();
const summary = await syncAllChats(client, sessionId, config, { api: createSyncApi(config), logger });
const seconds = (performance.now() - t0) / 1000;
sample();
clearInterval(timer);
child.kill("SIGTERM");
await once(child, "exit");

const line = {
  chats: n,
  synced: summary.synced,
  failed_batches: summary.failedBatches,
  seconds: Number(seconds.toFixed(2)),
  chats_per_second: Math.round(summary.synced / seconds),
  gc_exposed: typeof globalThis.gc === "function",
  heap_limit_mb: Number(mb((await import("node:v8")).getHeapStatistics().heap_size_limit)),
  heap_base_mb: Number(mb(base.heapUsed)),
  heap_with_fake_whatsapp_data_mb: Number(mb(withData.heapUsed)),
  heap_peak_mb: Number(mb(peakHeap)),
  rss_peak_mb: Number(mb(peakRss)),
};
console.log(`memory: ${n} chats in ${line.seconds}s (${line.chats_per_second} chats/s): peak heap ${line.heap_peak_mb} MB ` +
  `(fake WhatsApp data alone ${line.heap_with_fake_whatsapp_data_mb} MB, empty ${line.heap_base_mb} MB), peak RSS ${line.rss_peak_mb} MB, ` +
  `limit ${line.heap_limit_mb} MB`);
console.log(JSON.stringify(line));
process.exit(summary.synced === n ? 0 : 1);
