// Keeps WhatsApp Web running: a client that fails to start or ends
// (disconnected, logged out, the browser crashed) is torn down and started
// again after a wait that doubles from minMs up to maxMs, and starts over
// from minMs once a client stayed ready for healthyMs.

/**
 * @param {(signal: AbortSignal, markReady: () => void) => Promise<string>} runOnce
 *   runs one client until it ends; resolves (or rejects) with why it ended,
 *   and calls markReady when WhatsApp Web is ready
 * @param {object} o
 * @param {number} o.minMs
 * @param {number} o.maxMs
 * @param {number} o.healthyMs
 * @param {AbortSignal} o.signal stops the loop (after the running client ends)
 * @param {{warn: (o: any, m: string) => void}} o.logger
 * @param {(ms: number, signal?: AbortSignal) => Promise<void>} o.sleep
 * @param {() => number} o.now
 * @returns {Promise<void>} when signal aborts
 */
export async function runWithRestarts(runOnce, { minMs, maxMs, healthyMs, signal, logger, sleep, now }) {
  let failures = 0;
  while (!signal.aborted) {
    let readyAt = -1;
    const markReady = () => {
      if (readyAt < 0) readyAt = now();
    };
    let reason;
    try {
      reason = await runOnce(signal, markReady);
    } catch (err) {
      reason = String(err?.message ?? err);
    }
    if (signal.aborted) return;
    if (readyAt >= 0 && now() - readyAt >= healthyMs) failures = 0;
    failures++;
    const waitMs = restartWait(minMs, maxMs, failures);
    logger.warn({ reason, failures, wait_ms: waitMs }, "WhatsApp Web ended; starting it again");
    try {
      await sleep(waitMs, signal);
    } catch {
      return; // stopped while waiting
    }
  }
}

/** minMs doubled per failure after the first, at most maxMs. */
export function restartWait(minMs, maxMs, failures) {
  return Math.min(minMs * 2 ** Math.min(failures - 1, 30), maxMs);
}
