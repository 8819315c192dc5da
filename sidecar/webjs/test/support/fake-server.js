// A fake chatsync SyncService on node:http that speaks the Connect protocol
// (unary and server streaming, binary and JSON), checks the sidecar signature
// over the raw body exactly as DESIGN.md says, and decodes requests with the
// generated schemas. Tests script its answers and read what it received.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { create, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import {
  CompleteCommandRequestSchema, CompleteCommandResponseSchema, ReportSidecarStateRequestSchema, ReportSidecarStateResponseSchema,
  SyncBatchRequestSchema, SyncBatchResponseSchema, WatchCommandsRequestSchema, WatchCommandsResponseSchema,
} from "../../src/gen/chatsync/v1/sync_service_pb.js";
import { BatchStatus } from "../../src/gen/chatsync/v1/sync_pb.js";

const STATUS = {
  canceled: 499, unknown: 500, invalid_argument: 400, deadline_exceeded: 504, not_found: 404, already_exists: 409,
  permission_denied: 403, resource_exhausted: 429, failed_precondition: 400, aborted: 409, out_of_range: 400,
  unimplemented: 501, internal: 500, unavailable: 503, data_loss: 500, unauthenticated: 401,
};

/** An error a handler throws to answer with a Connect error. */
export class FakeError extends Error {
  /** @param {string} code e.g. "unavailable" @param {string} message @param {Record<string,string>} [headers] */
  constructor(code, message, headers = {}) {
    super(message);
    this.code = code;
    this.headers = headers;
  }
}

/** Verifies a signature the way the Go server does (signing.Verify). */
export function verifySignature(secret, tsHeader, sigHeader, body, nowMs) {
  if (!tsHeader || !sigHeader) return "missing";
  if (!/^-?[1-9][0-9]*$|^0$/.test(tsHeader)) return "timestamp";
  if (Math.abs(Math.floor(nowMs / 1000) - Number(tsHeader)) > 300) return "skew";
  const m = /^v1=([0-9a-f]{64})$/.exec(sigHeader);
  if (!m) return "malformed";
  const want = createHmac("sha256", Buffer.from(secret, "utf8")).update(`${tsHeader}.`).update(body).digest();
  return timingSafeEqual(Buffer.from(m[1], "hex"), want) ? null : "mismatch";
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on("data", (c) => parts.push(c));
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function envelope(flags, data) {
  const out = Buffer.alloc(5 + data.length);
  out[0] = flags;
  out.writeUInt32BE(data.length, 1);
  Buffer.from(data).copy(out, 5);
  return out;
}

/**
 * Starts the fake on 127.0.0.1.
 * @param {object} opts
 * @param {Record<string, string>} opts.sessions session ID → secret
 * @param {(req: any, n: number) => any | Promise<any>} [opts.syncBatch] answer (response init) or throw FakeError; n counts calls of that batch ID
 * @param {(req: any, signal: AbortSignal) => AsyncIterable<any>} [opts.watchCommands] yields WatchCommandsResponse inits
 * @param {(req: any) => any} [opts.completeCommand]
 * @param {(req: any) => any} [opts.reportSidecarState] answer (response init) or throw FakeError
 * @param {() => number} [opts.now]
 */
export async function startFakeServer(opts) {
  const state = {
    inFlight: 0,
    maxInFlight: 0,
    /** @type {any[]} accepted SyncBatch requests, first copy per batch ID */
    batches: [],
    /** @type {Map<string, number>} calls per batch ID */
    calls: new Map(),
    /** @type {{at: number, batchId: string}[]} arrival of each SyncBatch call */
    arrivals: [],
    completed: [],
    /** @type {any[]} ReportSidecarState requests */
    reports: [],
    refused: [],
    watchers: 0,
  };
  const seen = new Set();
  const now = opts.now ?? Date.now;

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const contentType = req.headers["content-type"] ?? "";
    const json = contentType.includes("json");
    const streaming = contentType.startsWith("application/connect+");
    const method = req.url.split("/").pop();

    const fail = (code, message, headers = {}) => {
      if (streaming) {
        res.writeHead(200, { "content-type": contentType, ...headers });
        res.end(envelope(2, Buffer.from(JSON.stringify({ error: { code, message } }))));
        return;
      }
      res.writeHead(STATUS[code] ?? 500, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify({ code, message }));
    };

    const session = req.headers["x-chatsync-session"];
    const secret = opts.sessions[session];
    const reason = secret === undefined ? "unknown session" :
      verifySignature(secret, req.headers["x-chatsync-timestamp"], req.headers["x-chatsync-signature"], body, now());
    if (reason) {
      state.refused.push({ method, reason });
      return fail("unauthenticated", `signature: ${reason}`);
    }

    const decode = (schema) => {
      const raw = streaming ? body.subarray(5, 5 + body.readUInt32BE(1)) : body;
      return json ? fromJson(schema, JSON.parse(raw.toString("utf8"))) : fromBinary(schema, raw);
    };
    const encode = (schema, init) => {
      const msg = create(schema, init);
      return json ? Buffer.from(JSON.stringify(toJson(schema, msg))) : Buffer.from(toBinary(schema, msg));
    };

    try {
      if (method === "SyncBatch") {
        const msg = decode(SyncBatchRequestSchema);
        if (msg.sessionId !== session) return fail("unauthenticated", "session_id differs from the signed session");
        state.inFlight++;
        state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
        const n = (state.calls.get(msg.batchId) ?? 0) + 1;
        state.calls.set(msg.batchId, n);
        state.arrivals.push({ at: now(), batchId: msg.batchId });
        try {
          const answer = (await opts.syncBatch?.(msg, n)) ?? {};
          const duplicate = seen.has(msg.batchId);
          if (!duplicate) {
            seen.add(msg.batchId);
            state.batches.push(msg);
          }
          res.writeHead(200, { "content-type": contentType });
          res.end(encode(SyncBatchResponseSchema, {
            batchId: msg.batchId, status: BatchStatus.QUEUED, acceptedCount: msg.chats.length, duplicate, ...answer,
          }));
        } finally {
          state.inFlight--;
        }
        return;
      }
      if (method === "CompleteCommand") {
        const msg = decode(CompleteCommandRequestSchema);
        state.completed.push(msg);
        await opts.completeCommand?.(msg);
        res.writeHead(200, { "content-type": contentType });
        res.end(encode(CompleteCommandResponseSchema, {}));
        return;
      }
      if (method === "ReportSidecarState") {
        const msg = decode(ReportSidecarStateRequestSchema);
        state.reports.push(msg);
        const answer = (await opts.reportSidecarState?.(msg)) ?? {};
        res.writeHead(200, { "content-type": contentType });
        res.end(encode(ReportSidecarStateResponseSchema, answer));
        return;
      }
      if (method === "WatchCommands") {
        const msg = decode(WatchCommandsRequestSchema);
        if (!opts.watchCommands) return fail("unimplemented", "WatchCommands");
        const closed = new AbortController();
        res.on("close", () => closed.abort());
        state.watchers++;
        res.writeHead(200, { "content-type": contentType });
        try {
          for await (const item of opts.watchCommands(msg, closed.signal)) {
            if (closed.signal.aborted) break;
            res.write(envelope(0, encode(WatchCommandsResponseSchema, item)));
          }
          res.end(envelope(2, Buffer.from("{}")));
        } catch (err) {
          if (err instanceof FakeError) {
            res.end(envelope(2, Buffer.from(JSON.stringify({ error: { code: err.code, message: err.message } }))));
          } else {
            res.destroy(err);
          }
        }
        return;
      }
      fail("unimplemented", method);
    } catch (err) {
      if (err instanceof FakeError) return fail(err.code, err.message, err.headers);
      fail("internal", String(err?.message ?? err));
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
