// Sidecar request signing (DESIGN.md, "Sidecar signing"):
//
//   X-Chatsync-Session:   <session id>
//   X-Chatsync-Timestamp: <unix seconds>
//   X-Chatsync-Signature: v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
//
// The HMAC key is the UTF-8 bytes of the sidecar_secret string. The server
// verifies the raw HTTP body, so the signature must be computed over exactly
// the bytes fetch sends; wrapping fetch is the one place they are visible.
import { createHmac } from "node:crypto";

export const HEADER_SESSION = "X-Chatsync-Session";
export const HEADER_TIMESTAMP = "X-Chatsync-Timestamp";
export const HEADER_SIGNATURE = "X-Chatsync-Signature";

/**
 * Signs body at unix time ts.
 * @param {string} secret the session's sidecar secret
 * @param {number} ts unix seconds
 * @param {Uint8Array} body the raw request body
 * @returns {string} the X-Chatsync-Signature value, "v1=<64 hex>"
 */
export function sign(secret, ts, body) {
  const mac = createHmac("sha256", Buffer.from(secret, "utf8"));
  mac.update(`${ts}.`, "utf8");
  mac.update(body);
  return `v1=${mac.digest("hex")}`;
}

/**
 * Returns the raw bytes of a fetch body as connect-web passes it (a
 * Uint8Array), or of the other plain forms fetch accepts.
 * @param {unknown} body
 * @returns {Uint8Array}
 */
export function bodyBytes(body) {
  if (body == null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return new TextEncoder().encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError(`cannot sign a ${Object.prototype.toString.call(body)} request body; only buffered bodies are supported`);
}

/**
 * Wraps fetch so every request is signed for the session.
 * @param {{sessionId: string, secret: string, fetch?: typeof globalThis.fetch, now?: () => number}} opts
 *   now returns milliseconds since the epoch (default Date.now).
 * @returns {typeof globalThis.fetch}
 */
export function createSigningFetch({ sessionId, secret, fetch = globalThis.fetch, now = Date.now }) {
  if (!sessionId || !secret) throw new Error("createSigningFetch: sessionId and secret are required");
  return async function signedFetch(input, init = {}) {
    if (input instanceof Request) {
      throw new TypeError("signedFetch: pass a URL and init, not a Request (its body cannot be read without consuming it)");
    }
    const body = bodyBytes(init.body);
    const ts = Math.floor(now() / 1000);
    const headers = new Headers(init.headers);
    headers.set(HEADER_SESSION, sessionId);
    headers.set(HEADER_TIMESTAMP, String(ts));
    headers.set(HEADER_SIGNATURE, sign(secret, ts, body));
    return fetch(input, { ...init, headers, body: init.body == null ? init.body : body });
  };
}
