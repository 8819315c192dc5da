import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../src/logger.js";
import { defaultConfig } from "../../src/config.js";

export const SESSION_ID = "42";
export const SECRET = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/** A config for tests: unpaced, short timeouts and backoff. */
export function testConfig(url, overrides = {}) {
  return {
    ...defaultConfig(),
    url,
    sessionId: SESSION_ID,
    secret: SECRET,
    chatsPerSecond: 0,
    timeoutMs: 2_000,
    backoffMs: 1,
    maxBackoffMs: 50,
    reconnectMs: 1,
    heartbeatTimeoutMs: 5_000,
    liveFlushMs: 5,
    // The state diff's own getChats() would change the counts tests
    // assert; its test turns it on and drives it (lookAtStates).
    stateDiffMs: 0,
    liveSpoolDir: fs.mkdtempSync(path.join(os.tmpdir(), "chatsync-live-test-")),
    ...overrides,
  };
}

/** A pino logger writing parsed lines into `lines`. */
export function captureLogger(sessionId = SESSION_ID) {
  const lines = [];
  const logger = createLogger({
    sessionId,
    level: "debug",
    destination: { write: (s) => lines.push(JSON.parse(s)) },
  });
  return { logger, lines };
}

/** Polls cond until it is true or timeoutMs passes. */
export async function waitFor(cond, timeoutMs = 5_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * A clock that moves only when something sleeps on it, starting at the real
 * time (the server checks the signature's timestamp).
 */
export function fakeClock(start = Date.now()) {
  const clock = {
    t: start,
    sleeps: [],
    now: () => clock.t,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      clock.sleeps.push(ms);
      clock.t += ms;
    },
  };
  return clock;
}
