// The retry policy shared by every SyncService call: per-attempt timeout,
// exponential backoff, retry-after on resource_exhausted, and an immediate
// stop on unauthenticated (the secret is wrong; retrying cannot help).
import { Code, ConnectError } from "@connectrpc/connect";

/** Thrown when the server refuses the signature. */
export class UnauthenticatedError extends Error {
  /** @param {ConnectError} cause */
  constructor(cause) {
    super("secret is wrong: the server refused the signature (check CHATSYNC_SESSION_ID and CHATSYNC_SIDECAR_SECRET, and the clock)", { cause });
    this.name = "UnauthenticatedError";
  }
}

const RETRYABLE = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Internal, Code.Unknown, Code.ResourceExhausted]);

/**
 * Resolves after ms, or rejects when signal aborts.
 * @param {number} ms
 * @param {AbortSignal} [signal]
 */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * How long the server asked to wait, in ms: the retry-after header
 * (seconds), else the seconds named in the message ("retry after 12 s").
 * @param {ConnectError} err
 * @returns {number | null}
 */
export function retryAfterMs(err) {
  const header = err.metadata?.get("retry-after");
  if (header != null && /^\s*\d+(\.\d+)?\s*$/.test(header)) return Math.round(Number(header) * 1000);
  const m = /(?:^|[^\d.])(\d+(?:\.\d+)?)\s*(?:s\b|sec)/i.exec(err.rawMessage ?? err.message ?? "");
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

/**
 * The wait before attempt n+1 after attempt n failed with err, or null when
 * the call should not be retried.
 * @param {number} n attempts so far (1-based)
 * @param {ConnectError} err
 * @param {{retries: number, backoffMs: number, maxBackoffMs: number}} policy
 * @returns {number | null}
 */
export function nextWait(n, err, { retries, backoffMs, maxBackoffMs }) {
  if (n > retries || !RETRYABLE.has(err.code)) return null;
  const cap = (ms) => (maxBackoffMs > 0 ? Math.min(ms, maxBackoffMs) : ms);
  if (err.code === Code.ResourceExhausted) {
    const after = retryAfterMs(err);
    if (after != null) return cap(after);
  }
  return cap(backoffMs * 2 ** (n - 1));
}

/**
 * Calls fn until it succeeds, the policy gives up, or signal aborts. fn gets
 * Connect call options ({signal, timeoutMs}) for the attempt.
 * @template T
 * @param {(opts: {signal?: AbortSignal, timeoutMs: number}) => Promise<T>} fn
 * @param {{retries: number, backoffMs: number, maxBackoffMs: number, timeoutMs: number,
 *   signal?: AbortSignal, sleep?: typeof sleep,
 *   onRetry?: (info: {attempt: number, error: ConnectError, waitMs: number}) => void}} opts
 * @returns {Promise<T>}
 */
export async function callWithRetry(fn, opts) {
  const wait = opts.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn({ signal: opts.signal, timeoutMs: opts.timeoutMs });
    } catch (e) {
      const err = ConnectError.from(e);
      if (err.code === Code.Unauthenticated) throw new UnauthenticatedError(err);
      if (opts.signal?.aborted) throw err;
      const waitMs = nextWait(attempt, err, opts);
      if (waitMs == null) throw err;
      opts.onRetry?.({ attempt, error: err, waitMs });
      await wait(waitMs, opts.signal);
    }
  }
}
