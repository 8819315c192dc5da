import { Code, ConnectError } from "@connectrpc/connect";

// The connection state the UI shows.
export type StreamState =
  | "idle" // not started (signed out)
  | "connecting" // first connection attempt
  | "live" // connected; events flow
  | "reconnecting" // dropped; waiting for the backoff, or trying again
  | "unavailable" // the server does not implement the stream (yet)
  | "unauthenticated" // the token was rejected; nothing to retry
  | "stopped"; // stopped by us

// The part of StreamChatUpdatesResponse the resume logic needs.
export interface ResumableEvent {
  eventId: string;
  event: { case: string | undefined };
}

export interface ResumableStreamOptions<E extends ResumableEvent> {
  // Opens one connection. resumeToken is "" or the last non-empty event_id;
  // call onOpen when the response headers arrive.
  open(resumeToken: string, signal: AbortSignal, onOpen: () => void): AsyncIterable<E>;
  // Every event except heartbeats.
  onEvent(ev: E): void;
  onState?(state: StreamState, info: { error?: ConnectError; delayMs?: number }): void;
  // The resume token is older than the server keeps (Code.OutOfRange): the
  // caller reloads what it shows; the stream then reopens without a token.
  onOutOfRange?(): void | Promise<void>;
  onUnauthenticated?(error: ConnectError): void;
  // Delay before reconnect attempt n (0-based). Defaults to backoffDelay.
  backoff?(attempt: number): number;
  // Silence after which a connection counts as dead (heartbeats come every
  // 15 s); 0 disables the watchdog.
  idleTimeoutMs?: number;
  // A server may hold the response headers until its first message; a
  // connection still pending without error after this long counts as live.
  // 0 waits for headers or a message.
  assumeLiveAfterMs?: number;
}

export const backoffDefaults = { baseMs: 500, factor: 2, maxMs: 15_000 } as const;

// Exponential backoff with jitter: attempt 0 waits 250–500 ms, then doubling,
// capped at 15 s (7.5–15 s with jitter).
export function backoffDelay(attempt: number, random: () => number = Math.random, cfg = backoffDefaults): number {
  const raw = Math.min(cfg.maxMs, cfg.baseMs * Math.pow(cfg.factor, Math.max(0, attempt)));
  return Math.round(raw * (0.5 + random() * 0.5));
}

class IdleTimeout extends Error {
  constructor() {
    super("no event or heartbeat within the idle timeout");
  }
}

// ResumableStream keeps a server stream open: on a drop it reconnects with
// backoff, passing the last non-empty event_id as resume token so no event is
// lost; heartbeats (empty event_id) keep it alive but never move the token.
export class ResumableStream<E extends ResumableEvent> {
  lastEventId = "";
  state: StreamState = "idle";
  private run?: AbortController;
  private conn?: AbortController;
  private wake?: () => void;
  private skipDelay = false;
  private done?: Promise<void>;

  constructor(private readonly opts: ResumableStreamOptions<E>) {}

  // Starts the loop (again). A stopped stream keeps its last event ID, so a
  // restart resumes where it stopped.
  start(): void {
    if (this.run && !this.run.signal.aborted) return;
    const run = new AbortController();
    this.run = run;
    this.done = this.loop(run.signal);
  }

  stop(): Promise<void> {
    this.run?.abort();
    this.wake?.();
    this.setState("stopped", {});
    return this.done ?? Promise.resolve();
  }

  // Drops the current connection or backoff wait and reconnects at once (the
  // browser went back online, say).
  reconnectNow(): void {
    if (!this.run || this.run.signal.aborted) return;
    this.skipDelay = true;
    this.conn?.abort(new ConnectError("reconnect requested", Code.Canceled));
    this.wake?.();
  }

  // Marks the connection as lost right away (the browser went offline) and
  // aborts it, so the UI shows "Reconnecting" without waiting for a timeout.
  dropConnection(): void {
    if (!this.run || this.run.signal.aborted) return;
    this.conn?.abort(new ConnectError("connection dropped", Code.Unavailable));
  }

  private setState(s: StreamState, info: { error?: ConnectError; delayMs?: number }): void {
    this.state = s;
    this.opts.onState?.(s, info);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    let first = true;
    while (!signal.aborted) {
      this.setState(first && this.lastEventId === "" ? "connecting" : "reconnecting", {});
      first = false;
      this.skipDelay = false;
      const conn = new AbortController();
      this.conn = conn;
      const onAbort = () => conn.abort();
      signal.addEventListener("abort", onAbort);
      let timer: ReturnType<typeof setTimeout> | undefined;
      let optimistic: ReturnType<typeof setTimeout> | undefined;
      const markLive = () => {
        if (!conn.signal.aborted && this.state !== "live") this.setState("live", {});
      };
      if ((this.opts.assumeLiveAfterMs ?? 0) > 0) optimistic = setTimeout(markLive, this.opts.assumeLiveAfterMs);
      const idle = this.opts.idleTimeoutMs ?? 0;
      const arm = () => {
        if (timer !== undefined) clearTimeout(timer);
        if (idle > 0) timer = setTimeout(() => conn.abort(new IdleTimeout()), idle);
      };
      let failure: unknown = undefined;
      try {
        arm();
        const events = this.opts.open(this.lastEventId, conn.signal, markLive);
        for await (const ev of events) {
          arm();
          attempt = 0;
          markLive();
          if (ev.event.case !== "heartbeat" && ev.event.case !== undefined) {
            try {
              this.opts.onEvent(ev);
            } catch (e) {
              console.error("chatsync: stream event handler failed", e);
            }
          }
          if (ev.eventId !== "") this.lastEventId = ev.eventId;
        }
      } catch (e) {
        failure = e;
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        if (optimistic !== undefined) clearTimeout(optimistic);
        signal.removeEventListener("abort", onAbort);
      }
      if (signal.aborted) return;

      if (failure !== undefined && !this.skipDelay) {
        const err = ConnectError.from(failure);
        if (err.code === Code.OutOfRange) {
          this.lastEventId = "";
          try {
            await this.opts.onOutOfRange?.();
          } catch (e) {
            console.error("chatsync: reload after out_of_range failed", e);
          }
          attempt = 0;
          continue;
        }
        if (err.code === Code.Unauthenticated) {
          this.setState("unauthenticated", { error: err });
          this.opts.onUnauthenticated?.(err);
          this.run?.abort();
          return;
        }
        if (err.code === Code.Unimplemented) {
          this.setState("unavailable", { error: err });
          this.run?.abort();
          return;
        }
      }

      const delay = this.skipDelay ? 0 : (this.opts.backoff ?? backoffDelay)(attempt);
      this.skipDelay = false;
      attempt++;
      const err = failure === undefined ? undefined : ConnectError.from(failure);
      this.setState("reconnecting", { error: err, delayMs: delay });
      await this.sleep(delay, signal);
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || this.skipDelay) return resolve();
      const t = setTimeout(finish, ms);
      function finish() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        finish();
      };
    });
  }
}
