import { test } from "node:test";
import assert from "node:assert/strict";
import { restartWait, runWithRestarts } from "../src/supervise.js";

test("restarts back off, are bounded, and start over after a healthy run", async () => {
  let clock = 0;
  const waits = [];
  const stop = new AbortController();
  // Four failed starts, a client ready for 2 minutes, two more failures,
  // a client ready for only 10 s, then one more failure.
  const script = ["fail", "fail", "fail", "fail", 120_000, "fail", "fail", 10_000, "fail"];
  let runs = 0;
  const warnings = [];
  await runWithRestarts(
    async (signal, markReady) => {
      const step = script[runs++];
      if (step === undefined) {
        stop.abort();
        return "stopping";
      }
      if (step === "fail") throw new Error("net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/");
      markReady();
      clock += step;
      return "disconnected: NAVIGATION";
    },
    {
      minMs: 1_000, maxMs: 5_000, healthyMs: 60_000, signal: stop.signal,
      logger: { warn: (o) => warnings.push(o) },
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
      now: () => clock,
    },
  );
  assert.deepEqual(waits, [1_000, 2_000, 4_000, 5_000, 1_000, 2_000, 4_000, 5_000, 5_000]);
  assert.equal(warnings[0].reason, "net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/");
  assert.equal(warnings[4].reason, "disconnected: NAVIGATION");
  assert.equal(warnings[4].failures, 1, "the healthy run started the count over");
});

test("stopping while waiting ends the loop", async () => {
  const stop = new AbortController();
  let runs = 0;
  await runWithRestarts(async () => {
    runs++;
    return "ended";
  }, {
    minMs: 1, maxMs: 1, healthyMs: 1, signal: stop.signal, logger: { warn() {} }, now: () => 0,
    sleep: async () => {
      stop.abort();
      throw new Error("aborted");
    },
  });
  assert.equal(runs, 1);
});

test("restartWait doubles and caps", () => {
  assert.deepEqual([1, 2, 3, 4, 60].map((f) => restartWait(500, 3_000, f)), [500, 1_000, 2_000, 3_000, 3_000]);
});
