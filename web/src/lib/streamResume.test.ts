import { describe, expect, it, vi } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { backoffDelay, ResumableStream, type ResumableEvent, type StreamState } from "./streamResume";

type Ev = ResumableEvent & { n?: number };
const ev = (eventId: string, n?: number): Ev => ({ eventId, event: { case: "chatUpserted" }, n });
const heartbeat = (): Ev => ({ eventId: "", event: { case: "heartbeat" } });

// A scripted server: each connection yields its events, then ends with the
// given error (or stays open until aborted when `hang` is set).
interface Conn {
  events: Ev[];
  error?: unknown;
  hang?: boolean;
}

function scripted(conns: Conn[]) {
  const tokens: string[] = [];
  let i = 0;
  const open = (token: string, signal: AbortSignal, onOpen: () => void): AsyncIterable<Ev> => {
    tokens.push(token);
    const c = conns[i++] ?? { events: [], hang: true };
    return (async function* () {
      onOpen();
      for (const e of c.events) {
        await Promise.resolve();
        yield e;
      }
      if (c.error) throw c.error;
      if (c.hang) {
        await new Promise<void>((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener("abort", () => reject(signal.reason));
        });
      }
    })();
  };
  return { open, tokens, opened: () => i };
}

const until = async (cond: () => boolean, ms = 2000) => {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 1));
  }
};

const unavailable = () => new ConnectError("network down", Code.Unavailable);

describe("backoffDelay", () => {
  it("doubles from 500 ms with jitter between half and full, capped at 15 s", () => {
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(1, () => 1)).toBe(1000);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(10, () => 1)).toBe(15000);
    expect(backoffDelay(50, () => 0)).toBe(7500);
  });
  it("never goes below half of the nominal delay", () => {
    for (let a = 0; a < 8; a++) {
      const d = backoffDelay(a);
      const nominal = Math.min(15000, 500 * 2 ** a);
      expect(d).toBeGreaterThanOrEqual(nominal / 2);
      expect(d).toBeLessThanOrEqual(nominal);
    }
  });
});

describe("ResumableStream", () => {
  it("reconnects with the last non-empty event_id; heartbeats never move the token", async () => {
    const server = scripted([
      { events: [ev("1-0"), ev("2-0"), heartbeat()], error: unavailable() },
      { events: [heartbeat()], error: unavailable() },
      { events: [ev("3-0")], hang: true },
    ]);
    const seen: string[] = [];
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: (e) => seen.push(e.eventId), backoff: () => 0 });
    s.start();
    await until(() => server.opened() === 3 && seen.length === 3);
    expect(server.tokens).toEqual(["", "2-0", "2-0"]);
    expect(seen).toEqual(["1-0", "2-0", "3-0"]); // heartbeats are not delivered
    expect(s.lastEventId).toBe("3-0");
    await s.stop();
  });

  it("backs off more after each failed attempt and resets once events flow", async () => {
    const server = scripted([
      { events: [], error: unavailable() },
      { events: [], error: unavailable() },
      { events: [ev("a")], error: unavailable() },
      { events: [], hang: true },
    ]);
    const attempts: number[] = [];
    const s = new ResumableStream<Ev>({
      open: server.open,
      onEvent: () => {},
      backoff: (n) => {
        attempts.push(n);
        return 1;
      },
    });
    s.start();
    await until(() => server.opened() === 4);
    expect(attempts).toEqual([0, 1, 0]);
    expect(server.tokens).toEqual(["", "", "", "a"]);
    await s.stop();
  });

  it("waits the backoff delay before reconnecting and shows reconnecting meanwhile", async () => {
    vi.useFakeTimers();
    try {
      const server = scripted([{ events: [ev("x")], error: unavailable() }, { events: [], hang: true }]);
      const states: StreamState[] = [];
      const s = new ResumableStream<Ev>({ open: server.open, onEvent: () => {}, onState: (st) => states.push(st), backoff: () => 5000 });
      s.start();
      await vi.advanceTimersByTimeAsync(10);
      expect(server.opened()).toBe(1);
      expect(s.state).toBe("reconnecting");
      await vi.advanceTimersByTimeAsync(4000);
      expect(server.opened()).toBe(1);
      await vi.advanceTimersByTimeAsync(1100);
      expect(server.opened()).toBe(2);
      expect(server.tokens).toEqual(["", "x"]);
      expect(states.slice(0, 3)).toEqual(["connecting", "live", "reconnecting"]);
      expect(s.state).toBe("live");
      await s.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("on out_of_range reloads, then reopens without a token", async () => {
    const server = scripted([
      { events: [ev("5-0")], error: unavailable() },
      { events: [], error: new ConnectError("resume token too old", Code.OutOfRange) },
      { events: [ev("9-0")], hang: true },
    ]);
    const order: string[] = [];
    const onOutOfRange = vi.fn(async () => {
      order.push(`reload after ${server.opened()} opens`);
    });
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: (e) => order.push(e.eventId), onOutOfRange, backoff: () => 0 });
    s.start();
    await until(() => server.opened() === 3 && order.includes("9-0"));
    expect(onOutOfRange).toHaveBeenCalledTimes(1);
    expect(server.tokens).toEqual(["", "5-0", ""]);
    expect(order).toEqual(["5-0", "reload after 2 opens", "9-0"]);
    await s.stop();
  });

  it("stops on unauthenticated and reports it", async () => {
    const server = scripted([{ events: [], error: new ConnectError("bad token", Code.Unauthenticated) }]);
    const onUnauthenticated = vi.fn();
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: () => {}, onUnauthenticated, backoff: () => 0 });
    s.start();
    await until(() => s.state === "unauthenticated");
    await new Promise((r) => setTimeout(r, 20));
    expect(server.opened()).toBe(1);
    expect(onUnauthenticated).toHaveBeenCalledOnce();
  });

  it("gives up quietly when the server does not implement the stream", async () => {
    const server = scripted([{ events: [], error: new ConnectError("", Code.Unimplemented) }]);
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: () => {}, backoff: () => 0 });
    s.start();
    await until(() => s.state === "unavailable");
    await new Promise((r) => setTimeout(r, 20));
    expect(server.opened()).toBe(1);
  });

  it("reconnects when the server ends the stream cleanly", async () => {
    const server = scripted([{ events: [ev("1")] }, { events: [], hang: true }]);
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: () => {}, backoff: () => 0 });
    s.start();
    await until(() => server.opened() === 2);
    expect(server.tokens).toEqual(["", "1"]);
    await s.stop();
  });

  it("treats a silent connection as dead after the idle timeout", async () => {
    const server = scripted([{ events: [ev("1")], hang: true }, { events: [], hang: true }]);
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: () => {}, backoff: () => 0, idleTimeoutMs: 30 });
    s.start();
    await until(() => server.opened() === 2);
    expect(server.tokens).toEqual(["", "1"]);
    await s.stop();
  });

  it("reconnectNow skips the backoff wait", async () => {
    const server = scripted([{ events: [ev("7")], error: unavailable() }, { events: [], hang: true }]);
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: () => {}, backoff: () => 60_000 });
    s.start();
    await until(() => s.state === "reconnecting");
    s.reconnectNow();
    await until(() => server.opened() === 2);
    expect(server.tokens).toEqual(["", "7"]);
    await s.stop();
    expect(s.state).toBe("stopped");
  });

  it("dropConnection shows reconnecting at once and resumes from the last event", async () => {
    const server = scripted([{ events: [ev("4")], hang: true }, { events: [], hang: true }]);
    const s = new ResumableStream<Ev>({ open: server.open, onEvent: () => {}, backoff: () => 0 });
    s.start();
    await until(() => s.lastEventId === "4");
    s.dropConnection();
    await until(() => server.opened() === 2);
    expect(server.tokens).toEqual(["", "4"]);
    await s.stop();
  });
});

describe("ResumableStream liveness", () => {
  it("counts a quiet but open connection as live after assumeLiveAfterMs", async () => {
    vi.useFakeTimers();
    try {
      // open() never calls onOpen and yields nothing: a server holding headers.
      const open = (_t: string, signal: AbortSignal) =>
        (async function* (): AsyncGenerator<Ev> {
          await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
        })();
      const s = new ResumableStream<Ev>({ open, onEvent: () => {}, assumeLiveAfterMs: 2000, backoff: () => 0 });
      s.start();
      await vi.advanceTimersByTimeAsync(1900);
      expect(s.state).toBe("connecting");
      await vi.advanceTimersByTimeAsync(200);
      expect(s.state).toBe("live");
      await s.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
