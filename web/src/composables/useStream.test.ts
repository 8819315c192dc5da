import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ChatService, StreamChatUpdatesResponseSchema, type StreamChatUpdatesResponse } from "../gen/chatsync/v1/chat_service_pb";
import { BatchKind } from "../gen/chatsync/v1/sync_pb";
import { chat } from "../test/fixtures";
import { pushable } from "../test/pushable";
import { createChatStream, type ChatStream } from "./useStream";

const upsert = (eventId: string, id: string): StreamChatUpdatesResponse =>
  create(StreamChatUpdatesResponseSchema, { eventId, event: { case: "chatUpserted", value: { chat: chat(id) } } });
const heartbeat = () => create(StreamChatUpdatesResponseSchema, { eventId: "", event: { case: "heartbeat", value: {} } });

const until = async (cond: () => boolean, ms = 3000) => {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 2));
  }
};

// One pushable per connection; the test drives each connection.
function server() {
  const conns: ReturnType<typeof pushable<StreamChatUpdatesResponse>>[] = [];
  const tokens: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ChatService, {
      async *streamChatUpdates(req, ctx) {
        tokens.push(req.resumeToken);
        const p = pushable<StreamChatUpdatesResponse>();
        conns.push(p);
        yield* p.iterate(ctx.signal);
      },
    });
  });
  return { client: createClient(ChatService, transport), conns, tokens };
}

let stream: ChatStream | undefined;
afterEach(async () => {
  await stream?.stop();
  stream = undefined;
});

describe("createChatStream over Connect", () => {
  it("resumes after a network error from the last event, ignoring heartbeats", async () => {
    const srv = server();
    stream = createChatStream(srv.client, { backoff: () => 0 });
    const got: string[] = [];
    stream.subscribe({ onEvent: (ev) => got.push(ev.eventId) });
    stream.start();
    await until(() => srv.conns.length === 1);
    srv.conns[0].push(upsert("100-0", "1"));
    srv.conns[0].push(upsert("101-0", "2"));
    srv.conns[0].push(heartbeat());
    await until(() => got.length === 2);
    expect(stream.state.value).toBe("live");
    srv.conns[0].fail(new ConnectError("connection reset", Code.Unavailable));
    await until(() => srv.conns.length === 2);
    expect(srv.tokens).toEqual(["", "101-0"]);
    srv.conns[1].push(upsert("102-0", "3"));
    await until(() => got.length === 3);
    expect(stream.state.value).toBe("live");
    expect(got).toEqual(["100-0", "101-0", "102-0"]);
  });

  it("on out_of_range resets subscribers and reopens without a token", async () => {
    const srv = server();
    stream = createChatStream(srv.client, { backoff: () => 0 });
    let resets = 0;
    stream.subscribe({ onReset: () => void resets++ });
    stream.start();
    await until(() => srv.conns.length === 1);
    srv.conns[0].push(upsert("5-0", "1"));
    await until(() => stream!.state.value === "live");
    srv.conns[0].fail(new ConnectError("x", Code.Unavailable));
    await until(() => srv.conns.length === 2);
    srv.conns[1].fail(new ConnectError("resume token expired", Code.OutOfRange));
    await until(() => srv.conns.length === 3);
    expect(resets).toBe(1);
    expect(srv.tokens).toEqual(["", "5-0", ""]);
  });

  it("collects sync progress and sync failures for the pages", async () => {
    const srv = server();
    stream = createChatStream(srv.client, { backoff: () => 0 });
    stream.start();
    await until(() => srv.conns.length === 1);
    srv.conns[0].push(
      create(StreamChatUpdatesResponseSchema, {
        eventId: "1",
        event: { case: "syncProgress", value: { sessionId: "7", kind: BatchKind.HISTORY, writtenCount: 40, totalSynced: 40n, pendingBatches: 2n } },
      }),
    );
    srv.conns[0].push(
      create(StreamChatUpdatesResponseSchema, {
        eventId: "2",
        event: { case: "syncFailed", value: { sessionId: "7", batchId: "b-9", error: "deadlock detected", attempts: 3 } },
      }),
    );
    await until(() => stream!.failures.value.length === 1);
    expect(stream.syncs.value["7"]).toMatchObject({ written: 40, pending: 2, done: false, error: "deadlock detected" });
    expect(stream.failures.value[0]).toMatchObject({ sessionId: "7", batchId: "b-9", attempts: 3 });
  });

  it("shows unavailable when the server has no StreamChatUpdates yet", async () => {
    const transport = createRouterTransport(() => {});
    stream = createChatStream(createClient(ChatService, transport), { backoff: () => 0 });
    stream.start();
    await until(() => stream!.state.value === "unavailable");
  });
});
