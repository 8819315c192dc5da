import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import { ChatService, StreamChatUpdatesResponseSchema, type StreamChatUpdatesResponse } from "../gen/chatsync/v1/chat_service_pb";
import { Provider, SessionStatus, SidecarState, SyncStatus } from "../gen/chatsync/v1/session_pb";
import { SessionService } from "../gen/chatsync/v1/session_service_pb";
import { createChatStream, type ChatStream } from "../composables/useStream";
import { session } from "../test/fixtures";
import { mountWith, settle } from "../test/mount";
import { pushable } from "../test/pushable";
import MonitoringView from "./MonitoringView.vue";

function server(opts: { unimplemented?: boolean; extra?: Record<string, unknown> } = {}) {
  let polls = 0;
  const streams: ReturnType<typeof pushable<StreamChatUpdatesResponse>>[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(SessionService, {
      listSessions() {
        return { sessions: [session("1", "Support line", Provider.WHATSMEOW)] };
      },
      getSessionHealth(req) {
        polls++;
        if (opts.unimplemented) throw new ConnectError("", Code.Unimplemented);
        return {
          sessionId: req.sessionId,
          health: {
            status: SessionStatus.CONNECTED,
            sync: { lastSyncTime: timestampFromMs(Date.now() - 5.5 * 60_000), totalSynced: 1234n, syncStatus: SyncStatus.FAILED, lastError: "chunk 3: deadlock" },
            queue: { depth: BigInt(polls * 2), failedJobs: 1n, processingRate: 12.5 },
            performance: { avgSyncDuration: { seconds: 1n, nanos: 500_000_000 }, successRate: 0.95, errorRate: 0.05 },
            ...opts.extra,
          },
        };
      },
    });
    service(ChatService, {
      async *streamChatUpdates(_req, ctx) {
        const p = pushable<StreamChatUpdatesResponse>();
        streams.push(p);
        yield* p.iterate(ctx.signal);
      },
    });
  });
  return { transport, streams, polls: () => polls };
}

let w: VueWrapper | undefined;
let stream: ChatStream | undefined;
afterEach(async () => {
  w?.unmount();
  await stream?.stop();
  w = stream = undefined;
});

describe("MonitoringView", () => {
  it("shows the health figures and charts queue depth over polls", async () => {
    const srv = server();
    w = await mountWith(MonitoringView, { transport: srv.transport, props: { pollMs: 20 } });
    await settle(10);
    const card = w.get('[data-testid="health-card"]');
    const text = card.text();
    for (const want of ["Support line", "Connected", "Failed", "5 min", "1,234 chats", "95 %", "5.0 %", "1.5 s", "chunk 3: deadlock"]) {
      expect(text).toContain(want);
    }
    for (let i = 0; i < 200 && srv.polls() < 3; i++) await new Promise((r) => setTimeout(r, 10));
    await settle();
    expect(srv.polls()).toBeGreaterThanOrEqual(3);
    const depth = card.findAll("svg[role=img]")[0];
    expect(depth.attributes("aria-label")).toMatch(/^Queue depth: now \d+, peak \d+$/);
    const points = depth.get("polyline").attributes("points")!.split(" ");
    expect(points.length).toBeGreaterThanOrEqual(3);
    expect(card.findAll("svg[role=img]")[1].attributes("aria-label")).toContain("12.5/min");
    expect(w.get('a[href="/asynq/"]').text()).toContain("Asynq");
    expect(w.text()).toContain("operator token");
  });

  it("shows what history left out and the sidecar's report", async () => {
    const srv = server({
      extra: {
        history: { chatsOverMaxChats: 12n, messagesOutsideWindow: 340n, pendingBlobs: 2n },
        sidecar: {
          status: { state: SidecarState.READY },
          lastSyncTime: timestampFromMs(Date.now()), lastSyncTotal: 120, lastSyncSynced: 119, unreadableChatCount: 1,
          unreadableChats: [{ chatJid: "15550000037@s.whatsapp.net", reason: "fetchMessages threw" }],
        },
      },
    });
    w = await mountWith(MonitoringView, { transport: srv.transport, props: { pollMs: 10_000 } });
    await settle(10);
    const left = w.get('[data-testid="history-left-out"]').text();
    expect(left).toContain("12 chats over max chats");
    expect(left).toContain("340 messages older than the window");
    expect(left).toContain("2 blobs still to process");
    const sc = w.get('[data-testid="sidecar-health"]').text();
    expect(sc).toContain("Sidecar ready");
    expect(sc).toContain("last sync 119 of 120 chats");
    expect(sc).toContain("1 chat could not be read");
    expect(sc).toContain("15550000037@s.whatsapp.net — fetchMessages threw");
  });

  it("stops polling and says so when health is not implemented", async () => {
    const srv = server({ unimplemented: true });
    w = await mountWith(MonitoringView, { transport: srv.transport, props: { pollMs: 10 } });
    await settle(10);
    await new Promise((r) => setTimeout(r, 50));
    expect(srv.polls()).toBe(1);
    expect(w.get('[role="alert"]').text()).toContain("not available yet on this server");
  });

  it("lists sync failures from the stream", async () => {
    const srv = server();
    stream = createChatStream(createClient(ChatService, srv.transport), { backoff: () => 0 });
    stream.start();
    w = await mountWith(MonitoringView, { transport: srv.transport, stream, props: { pollMs: 60_000 } });
    await settle(10);
    expect(w.text()).toContain("No sync failures");
    srv.streams[0].push(
      create(StreamChatUpdatesResponseSchema, {
        eventId: "9-0",
        eventTime: timestampFromMs(Date.now()),
        event: { case: "syncFailed", value: { sessionId: "1", batchId: "hist-42", error: "timeout after 300 s", attempts: 3 } },
      }),
    );
    await settle(10);
    const row = w.get('[data-testid="failure-row"]');
    expect(row.text()).toContain("Support line");
    expect(row.text()).toContain("hist-42");
    expect(row.text()).toContain("timeout after 300 s");
  });
});
