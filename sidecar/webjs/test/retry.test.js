import { test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { callWithRetry, nextWait, retryAfterMs, sleep, UnauthenticatedError } from "../src/retry.js";

const policy = { retries: 3, backoffMs: 2_000, maxBackoffMs: 300_000 };
const err = (code, message = "x", headers) => new ConnectError(message, code, headers ? new Headers(headers) : undefined);

test("nextWait: exponential backoff from 2 s, three retries", () => {
  const e = err(Code.Unavailable);
  assert.deepEqual([1, 2, 3, 4].map((n) => nextWait(n, e, policy)), [2_000, 4_000, 8_000, null]);
  assert.equal(nextWait(9, e, { ...policy, retries: 10, maxBackoffMs: 5_000 }), 5_000, "capped");
});

test("nextWait: which codes are retried", () => {
  for (const code of [Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Internal, Code.Unknown, Code.ResourceExhausted]) {
    assert.equal(nextWait(1, err(code), policy), 2_000, `code ${code}`);
  }
  for (const code of [Code.InvalidArgument, Code.NotFound, Code.PermissionDenied, Code.FailedPrecondition, Code.Unauthenticated, Code.Canceled]) {
    assert.equal(nextWait(1, err(code), policy), null, `code ${code}`);
  }
});

test("retry-after on resource_exhausted", () => {
  assert.equal(retryAfterMs(err(Code.ResourceExhausted, "rate limit", { "retry-after": "7" })), 7_000);
  assert.equal(retryAfterMs(err(Code.ResourceExhausted, "rate limit", { "retry-after": "0.25" })), 250);
  assert.equal(retryAfterMs(err(Code.ResourceExhausted, "limit of 60 calls a minute: retry after 12 s")), 12_000);
  assert.equal(retryAfterMs(err(Code.ResourceExhausted, "wait 3s")), 3_000);
  assert.equal(retryAfterMs(err(Code.ResourceExhausted, "try again in 30 seconds")), 30_000);
  assert.equal(retryAfterMs(err(Code.ResourceExhausted, "60 sessions max")), null);
  assert.equal(retryAfterMs(err(Code.ResourceExhausted, "slow down")), null);
  assert.equal(nextWait(1, err(Code.ResourceExhausted, "x", { "retry-after": "7" }), policy), 7_000, "header beats backoff");
  assert.equal(nextWait(1, err(Code.ResourceExhausted, "x", { "retry-after": "9999" }), policy), 300_000, "capped");
  assert.equal(nextWait(1, err(Code.ResourceExhausted, "slow down"), policy), 2_000, "no hint: backoff");
});

test("callWithRetry retries with the policy's waits and passes the timeout", async () => {
  const waits = [];
  const seen = [];
  let calls = 0;
  const result = await callWithRetry(
    async (opts) => {
      seen.push(opts.timeoutMs);
      if (++calls < 3) throw err(Code.Unavailable, "down");
      return "ok";
    },
    { ...policy, timeoutMs: 10_000, sleep: async (ms) => waits.push(ms) },
  );
  assert.equal(result, "ok");
  assert.deepEqual(waits, [2_000, 4_000]);
  assert.deepEqual(seen, [10_000, 10_000, 10_000]);
});

test("callWithRetry gives up after the last retry", async () => {
  const waits = [];
  let calls = 0;
  await assert.rejects(
    callWithRetry(async () => { calls++; throw err(Code.Unavailable, "down"); }, { ...policy, timeoutMs: 1, sleep: async (ms) => waits.push(ms) }),
    (e) => e instanceof ConnectError && e.code === Code.Unavailable,
  );
  assert.equal(calls, 4);
  assert.deepEqual(waits, [2_000, 4_000, 8_000]);
});

test("callWithRetry stops at once on unauthenticated", async () => {
  let calls = 0;
  await assert.rejects(
    callWithRetry(async () => { calls++; throw err(Code.Unauthenticated, "signature: mismatch"); }, { ...policy, timeoutMs: 1, sleep: async () => assert.fail("slept") }),
    (e) => e instanceof UnauthenticatedError && /secret is wrong/.test(e.message) && e.cause.code === Code.Unauthenticated,
  );
  assert.equal(calls, 1);
});

test("callWithRetry stops when its signal aborts", async () => {
  const stop = new AbortController();
  let calls = 0;
  await assert.rejects(
    callWithRetry(async () => { calls++; stop.abort(new Error("stop")); throw err(Code.Unavailable); }, { ...policy, timeoutMs: 1, signal: stop.signal }),
    (e) => e.code === Code.Unavailable,
  );
  assert.equal(calls, 1);
});

test("sleep honours its signal", async () => {
  await sleep(1);
  const stop = new AbortController();
  const p = sleep(60_000, stop.signal);
  stop.abort(new Error("bye"));
  await assert.rejects(p, /bye/);
  await assert.rejects(sleep(1, stop.signal), /bye/);
});
