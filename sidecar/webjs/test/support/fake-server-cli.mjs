#!/usr/bin/env node
// Runs the fake SyncService in its own process (for the memory benchmark and
// for trying the e2e harness without a real server). Prints its URL as the
// first stdout line; stops on SIGTERM or SIGINT.
//   node test/support/fake-server-cli.mjs <session id> <secret>
import { startFakeServer } from "./fake-server.js";

const [sessionId = "1", secret = "s"] = process.argv.slice(2);
const server = await startFakeServer({ sessions: { [sessionId]: secret } });
process.stdout.write(`${server.url}\n`);
const stop = async () => {
  process.stderr.write(`fake server: ${server.state.batches.length} batches accepted\n`);
  await server.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
