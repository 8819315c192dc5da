import { afterEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import { ChatType, type Chat } from "../gen/chatsync/v1/chat_pb";
import { ChatService, StreamChatUpdatesResponseSchema, type ListChatsRequest, type StreamChatUpdatesResponse } from "../gen/chatsync/v1/chat_service_pb";
import { Provider } from "../gen/chatsync/v1/session_pb";
import { SessionService } from "../gen/chatsync/v1/session_service_pb";
import { createChatStream, type ChatStream } from "../composables/useStream";
import { chat, group, session } from "../test/fixtures";
import { mountWith, settle } from "../test/mount";
import { pushable } from "../test/pushable";
import ChatsView from "./ChatsView.vue";

// An in-memory chatsync: ListChats pages over `data` (already newest first)
// with opaque tokens, and records every request.
function backend(data: Chat[], opts: { listChats?: "unimplemented" } = {}) {
  const requests: ListChatsRequest[] = [];
  // The pinned section's own requests, apart from the list's pages.
  const pinnedRequests: ListChatsRequest[] = [];
  const streams: ReturnType<typeof pushable<StreamChatUpdatesResponse>>[] = [];
  const streamTokens: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ChatService, {
      listChats(req) {
        (req.pinned === true ? pinnedRequests : requests).push(req);
        if (opts.listChats === "unimplemented") throw new ConnectError("not implemented", Code.Unimplemented);
        const rows = data.filter(
          (c) =>
            (req.sessionIds.length === 0 || req.sessionIds.includes(c.sessionId)) &&
            (req.type === ChatType.UNSPECIFIED || c.type === req.type) &&
            (!req.unreadOnly || c.unreadCount > 0 || c.markedUnread) &&
            (req.archived === undefined || c.archived === req.archived) &&
            (req.pinned === undefined || c.pinned === req.pinned) &&
            (req.query === "" || c.name.toLowerCase().includes(req.query.toLowerCase())),
        );
        // Tokens look nothing like offsets and carry characters that break
        // if re-encoded, to prove they are passed back verbatim.
        const start = req.pageToken ? Number(atob(req.pageToken.split("|")[1])) : 0;
        const size = req.pageSize || 50;
        const end = start + size;
        return { chats: rows.slice(start, end), nextPageToken: end < rows.length ? `k+/=|${btoa(String(end))}|${req.sessionIds.join(",")}` : "" };
      },
      async *streamChatUpdates(req, ctx) {
        streamTokens.push(req.resumeToken);
        const p = pushable<StreamChatUpdatesResponse>();
        streams.push(p);
        yield* p.iterate(ctx.signal);
      },
    });
    service(SessionService, {
      listSessions() {
        return { sessions: [session("1", "Support line"), session("2", "Sales", Provider.WEBJS)] };
      },
    });
  });
  return { transport, requests, pinnedRequests, streams, streamTokens };
}

const upsert = (eventId: string, c: Chat) => create(StreamChatUpdatesResponseSchema, { eventId, event: { case: "chatUpserted", value: { chat: c } } });
const rowNames = (w: VueWrapper) => w.findAll('[data-testid="chat-row"]').map((r) => r.attributes("aria-label"));

let stream: ChatStream | undefined;
let wrapper: VueWrapper | undefined;
afterEach(async () => {
  wrapper?.unmount();
  await stream?.stop();
  stream = wrapper = undefined;
});

async function mountChats(b: ReturnType<typeof backend>, props: Record<string, unknown> = {}) {
  stream = createChatStream(createClient(ChatService, b.transport), { backoff: () => 0 });
  stream.start();
  wrapper = await mountWith(ChatsView, { transport: b.transport, stream, props });
  await settle();
  return wrapper;
}

const dataset = () => [
  chat("6", { name: "Alice", phone: "+15550000006", minutesAgo: 1, unreadCount: 2 }),
  group("5", 5, { name: "Team Berlin", minutesAgo: 2, provider: Provider.WEBJS, sessionId: "2", sessionName: "Sales" }),
  chat("4", { name: "Bob", minutesAgo: 3, provider: Provider.META_CLOUD }),
  chat("3", { name: "Carol", minutesAgo: 4, sessionId: "2", sessionName: "Sales" }),
  chat("2", { name: "Dave", minutesAgo: 5 }),
];

describe("ChatsView", () => {
  it("lists chats with group icon, participant count, phone and provider badges", async () => {
    const w = await mountChats(backend(dataset()));
    expect(rowNames(w)).toEqual(["Alice", "Team Berlin", "Bob", "Carol", "Dave"]);
    const [alice, team, bob] = w.findAll('[data-testid="chat-row"]');
    expect(team.find('[aria-label="Group"]').exists()).toBe(true);
    expect(team.find('[data-testid="participant-count"]').text()).toBe("5 participants");
    expect(team.find('[data-testid="chat-phone"]').exists()).toBe(false);
    expect(team.find('[data-testid="provider-badge"]').text()).toBe("Web.js");
    expect(alice.find('[aria-label="Group"]').exists()).toBe(false);
    expect(alice.find('[data-testid="participant-count"]').exists()).toBe(false);
    expect(alice.find('[data-testid="chat-phone"]').text()).toBe("+15550000006");
    expect(alice.find('[data-testid="provider-badge"]').text()).toBe("whatsmeow");
    expect(alice.find('[data-testid="unread-badge"]').attributes("aria-label")).toBe("2 unread messages");
    expect(bob.find('[data-testid="provider-badge"]').text()).toBe("Meta API");
  });

  it("offers All sessions plus the session names in the Session dropdown and filters by it", async () => {
    const b = backend(dataset());
    const w = await mountChats(b);
    const select = w.get<HTMLSelectElement>("select#session-filter");
    expect(w.get('label[for="session-filter"]').text()).toBe("Session");
    expect(select.findAll("option").map((o) => o.text())).toEqual(["All sessions", "Sales", "Support line"]);
    await select.setValue("2");
    await settle();
    expect(b.requests.at(-1)).toMatchObject({ sessionIds: ["2"], pageToken: "" });
    expect(rowNames(w)).toEqual(["Team Berlin", "Carol"]);
  });

  it("passes page tokens back exactly and never duplicates a chat", async () => {
    const data = dataset();
    const b = backend(data);
    const w = await mountChats(b, { pageSize: 2 });
    expect(rowNames(w)).toEqual(["Alice", "Team Berlin"]);
    const first = b.requests.length;

    // A live update brings "Bob" (on page 2) to the top before page 2 loads.
    const bobNow = { ...data[2], lastActivityTime: { ...data[0].lastActivityTime!, seconds: data[0].lastActivityTime!.seconds + 60n } };
    b.streams[0].push(upsert("1-0", bobNow));
    await settle();
    expect(rowNames(w)).toEqual(["Bob", "Alice", "Team Berlin"]);

    await w.get("button.btn:not(.btn-ghost)").trigger("click"); // Load more
    await settle();
    const page2 = b.requests[first];
    expect(page2.pageToken).toBe(`k+/=|${btoa("2")}|`);
    expect(rowNames(w)).toEqual(["Bob", "Alice", "Team Berlin", "Carol"]);

    await w.findAll("button").find((x) => x.text() === "Load more")!.trigger("click");
    await settle();
    expect(b.requests.at(-1)!.pageToken).toBe(`k+/=|${btoa("4")}|`);
    expect(rowNames(w)).toEqual(["Bob", "Alice", "Team Berlin", "Carol", "Dave"]);
    expect(new Set(rowNames(w)).size).toBe(5);
    expect(w.text()).toContain("That's all chats");
  });

  it("scrolls infinitely: loads pages while the end of the list is in view", async () => {
    let fire: ((visible: boolean) => void) | undefined;
    class FakeObserver {
      constructor(cb: (entries: { isIntersecting: boolean }[]) => void) {
        fire = (visible) => cb([{ isIntersecting: visible }]);
      }
      observe() {}
      unobserve() {}
      disconnect() {}
    }
    vi.stubGlobal("IntersectionObserver", FakeObserver);
    try {
      const b = backend(dataset());
      const w = await mountChats(b, { pageSize: 2 });
      expect(rowNames(w)).toHaveLength(2);
      fire!(true);
      await settle(15);
      // Page 2 arrived with the sentinel still visible, so page 3 followed.
      expect(b.requests.map((r) => r.pageToken)).toEqual(["", `k+/=|${btoa("2")}|`, `k+/=|${btoa("4")}|`]);
      expect(rowNames(w)).toEqual(["Alice", "Team Berlin", "Bob", "Carol", "Dave"]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("puts a new matching chat on top and counts it in the new-chats badge", async () => {
    const b = backend(dataset());
    const w = await mountChats(b);
    expect(w.find('[data-testid="new-chats-badge"]').exists()).toBe(false);
    b.streams[0].push(upsert("7-0", chat("7", { name: "Erin", minutesAgo: 0 })));
    b.streams[0].push(upsert("8-0", group("8", 3, { name: "Climbing", minutesAgo: -1 })));
    await settle();
    expect(rowNames(w).slice(0, 2)).toEqual(["Climbing", "Erin"]);
    const badge = w.get('[data-testid="new-chats-badge"]');
    expect(badge.text()).toBe("2 new chats");
    await badge.trigger("click");
    expect(w.find('[data-testid="new-chats-badge"]').exists()).toBe(false);
  });

  it("drops a chat merged into another and shows the one it went into", async () => {
    const b = backend(dataset());
    const w = await mountChats(b);
    // Bob's LID chat (4) merged into his phone chat (9), which comes next.
    b.streams[0].push(create(StreamChatUpdatesResponseSchema, { eventId: "9-0", event: { case: "chatRemoved", value: { chatId: "4", mergedInto: "9", sessionId: "1" } } }));
    b.streams[0].push(upsert("9-1", chat("9", { name: "Bob", minutesAgo: 0, unreadCount: 3 })));
    await settle();
    expect(rowNames(w)).toEqual(["Bob", "Alice", "Team Berlin", "Carol", "Dave"]);
  });

  it("shows pinned chats first, and moves a chat out when it is unpinned", async () => {
    const data = dataset();
    data[4] = chat("2", { name: "Dave", minutesAgo: 5, pinned: true });
    const b = backend(data);
    const w = await mountChats(b);
    expect(b.pinnedRequests).toHaveLength(1);
    expect(rowNames(w)).toEqual(["Dave", "Alice", "Team Berlin", "Bob", "Carol"]);
    b.streams[0].push(upsert("9-0", chat("3", { name: "Carol", minutesAgo: 4, sessionId: "2", sessionName: "Sales", pinned: true })));
    await settle();
    expect(rowNames(w)).toEqual(["Carol", "Dave", "Alice", "Team Berlin", "Bob"]);
    b.streams[0].push(upsert("9-1", chat("2", { name: "Dave", minutesAgo: 5, pinned: false })));
    await settle();
    expect(rowNames(w)).toEqual(["Carol", "Alice", "Team Berlin", "Bob", "Dave"]);
  });

  it("filters archived chats and shows the unread dot of a chat marked unread", async () => {
    const data = dataset();
    data[3] = chat("3", { name: "Carol", minutesAgo: 4, archived: true, markedUnread: true });
    const b = backend(data);
    const w = await mountChats(b);
    await w.get("select#archived-filter").setValue("archived");
    await settle();
    expect(b.requests.at(-1)!.archived).toBe(true);
    expect(rowNames(w)).toEqual(["Carol"]);
    expect(w.find('[data-testid="unread-dot"]').exists()).toBe(true);
    await w.get("select#archived-filter").setValue("main");
    await settle();
    expect(b.requests.at(-1)!.archived).toBe(false);
    expect(rowNames(w)).toEqual(["Alice", "Team Berlin", "Bob", "Dave"]);
  });

  it("ignores live chats that do not match the filters", async () => {
    const b = backend(dataset());
    const w = await mountChats(b);
    await w.get("select#type-filter").setValue(String(ChatType.GROUP));
    await settle();
    expect(b.requests.at(-1)!.type).toBe(ChatType.GROUP);
    expect(rowNames(w)).toEqual(["Team Berlin"]);
    b.streams[0].push(upsert("9-0", chat("9", { name: "Private news", minutesAgo: 0 })));
    await settle();
    expect(rowNames(w)).toEqual(["Team Berlin"]);
    expect(w.find('[data-testid="new-chats-badge"]').exists()).toBe(false);
  });

  it("debounces the search box into one request", async () => {
    const b = backend(dataset());
    const w = await mountChats(b, { searchDebounceMs: 250 });
    const before = b.requests.length;
    const input = w.get("input#chat-search");
    await input.setValue("a");
    await input.setValue("al");
    await input.setValue("ali");
    await settle();
    expect(b.requests.length).toBe(before);
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect(b.requests.length).toBe(before + 1);
    expect(b.requests.at(-1)!.query).toBe("ali");
    expect(rowNames(w)).toEqual(["Alice"]);
  });

  it("reloads the list when the stream cannot resume (out_of_range)", async () => {
    const b = backend(dataset());
    await mountChats(b);
    const before = b.requests.length;
    b.streams[0].push(upsert("3-0", chat("6", { name: "Alice", minutesAgo: 0 })));
    await settle();
    b.streams[0].fail(new ConnectError("gone", Code.Unavailable));
    await settle();
    b.streams[1].fail(new ConnectError("resume token too old", Code.OutOfRange));
    await settle(10);
    expect(b.streamTokens).toEqual(["", "3-0", ""]);
    expect(b.requests.length).toBe(before + 1);
    expect(b.requests.at(-1)!.pageToken).toBe("");
  });

  it("shows designed empty states", async () => {
    const w = await mountChats(backend([]));
    expect(w.get('[data-testid="empty-state"]').text()).toContain("No chats yet");
    await w.get("#unread-only").setValue(true);
    await settle();
    expect(w.get('[data-testid="empty-state"]').text()).toContain("No chats match these filters");
  });

  it("explains an RPC the server does not implement yet", async () => {
    const w = await mountChats(backend([], { listChats: "unimplemented" }));
    expect(w.get('[role="alert"]').text()).toContain("not available yet on this server");
  });
});
