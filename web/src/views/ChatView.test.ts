import { afterEach, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import { MediaType, MessageSchema, ParticipantRole, ReactionSchema, type Message } from "../gen/chatsync/v1/chat_pb";
import { ChatService, StreamChatUpdatesResponseSchema, type ListMessagesRequest, type StreamChatUpdatesResponse } from "../gen/chatsync/v1/chat_service_pb";
import { createChatStream, type ChatStream } from "../composables/useStream";
import { group, T0 } from "../test/fixtures";
import { mountWith, settle, testRouter } from "../test/mount";
import { pushable } from "../test/pushable";
import ChatView from "./ChatView.vue";

const msg = (id: string, minutesAgo: number, over: Partial<Omit<Message, "$typeName" | "$unknown">> = {}) =>
  create(MessageSchema, { id, chatId: "5", senderJid: "1555001@s.whatsapp.net", text: `text ${id}`, timestamp: timestampFromMs(T0 - minutesAgo * 60_000), ...over });

function server(opts: { notFound?: boolean } = {}) {
  const msgs = [msg("m5", 1), msg("m4", 2, { fromMe: true }), msg("m3", 3, { mediaType: MediaType.IMAGE, text: "" }), msg("m2", 4), msg("m1", 5)];
  const listRequests: ListMessagesRequest[] = [];
  const streams: ReturnType<typeof pushable<StreamChatUpdatesResponse>>[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ChatService, {
      getChat(req) {
        if (opts.notFound || req.chatId !== "5") throw new ConnectError("chat not found", Code.NotFound);
        return {
          chat: group("5", 3, { name: "Team Berlin", description: "Weekly sync" }),
          participants: [
            { jid: "1555001@s.whatsapp.net", phone: "+1555001", name: "Owner Olga", role: ParticipantRole.SUPERADMIN },
            { jid: "1555002@s.whatsapp.net", phone: "+1555002", name: "Admin Ann", role: ParticipantRole.ADMIN },
            { jid: "1555003@s.whatsapp.net", phone: "+1555003", role: ParticipantRole.MEMBER },
          ],
        };
      },
      listMessages(req) {
        listRequests.push(req);
        const start = req.pageToken === "" ? 0 : Number(req.pageToken.replace("after:", ""));
        const end = start + req.pageSize;
        return { messages: msgs.slice(start, end), nextPageToken: end < msgs.length ? `after:${end}` : "" };
      },
      async *streamChatUpdates(_req, ctx) {
        const p = pushable<StreamChatUpdatesResponse>();
        streams.push(p);
        yield* p.iterate(ctx.signal);
      },
    });
  });
  return { transport, listRequests, streams };
}

let w: VueWrapper | undefined;
let stream: ChatStream | undefined;
afterEach(async () => {
  w?.unmount();
  await stream?.stop();
  w = stream = undefined;
});

const texts = (w: VueWrapper) => w.findAll('[data-testid="message"] .text').map((m) => m.text());

describe("ChatView", () => {
  it("shows the group with participants and roles, and messages newest first with load more", async () => {
    const srv = server();
    w = await mountWith(ChatView, { transport: srv.transport, props: { id: "5", pageSize: 2 } });
    await settle();
    expect(w.get("h1").text()).toBe("Team Berlin");
    expect(w.get('[data-testid="participant-count"]').text()).toBe("3 participants");
    const people = w.get('ul[aria-label="Participants"]').findAll("li").map((li) => li.text());
    expect(people).toEqual([expect.stringMatching(/Owner Olga.*Owner/), expect.stringMatching(/Admin Ann.*Admin/), expect.stringMatching(/\+1555003.*Member/)]);

    expect(texts(w)).toEqual(["text m5", "text m4"]);
    // The text is shown as sent (pre-wrapped), without the template's indentation.
    expect(w.get('[data-testid="message"] .text').element.textContent).toBe("text m5");
    await w.findAll("button").find((b) => b.text() === "Load older messages")!.trigger("click");
    await settle();
    expect(srv.listRequests.map((r) => r.pageToken)).toEqual(["", "after:2"]);
    expect(texts(w)).toEqual(["text m5", "text m4", "Photo", "text m2"]);
    await w.findAll("button").find((b) => b.text() === "Load older messages")!.trigger("click");
    await settle();
    expect(texts(w)).toHaveLength(5);
    expect(w.findAll("button").some((b) => b.text() === "Load older messages")).toBe(false);
    // group messages name their sender; our own say "You"
    expect(w.findAll('[data-testid="message"] .sender').map((s) => s.text()).slice(0, 2)).toEqual(["Owner Olga", "You"]);
  });

  it("adds live messages of this chat on top, once", async () => {
    const srv = server();
    stream = createChatStream(createClient(ChatService, srv.transport), { backoff: () => 0 });
    stream.start();
    w = await mountWith(ChatView, { transport: srv.transport, stream, props: { id: "5", pageSize: 2 } });
    await settle();
    const live = msg("m6", 0, { text: "just in" });
    const ev = (id: string, m: Message) => create(StreamChatUpdatesResponseSchema, { eventId: id, event: { case: "messageAdded", value: { message: m, sessionId: "1" } } });
    srv.streams[0].push(ev("1", live));
    srv.streams[0].push(ev("2", live));
    srv.streams[0].push(ev("3", msg("other", 0, { chatId: "99", text: "elsewhere" })));
    await settle();
    expect(texts(w)).toEqual(["just in", "text m5", "text m4"]);
  });

  it("shows edits, revokes and reactions, and follows message_updated", async () => {
    const srv = server();
    stream = createChatStream(createClient(ChatService, srv.transport), { backoff: () => 0 });
    stream.start();
    w = await mountWith(ChatView, { transport: srv.transport, stream, props: { id: "5", pageSize: 5 } });
    await settle();
    expect(w.find('[data-testid="edited"]').exists()).toBe(false);
    const updated = (id: string, m: Message) =>
      create(StreamChatUpdatesResponseSchema, { eventId: id, event: { case: "messageUpdated", value: { message: m, sessionId: "1" } } });
    // m5 edited and reacted to by two people with one emoji and by me with another
    srv.streams[0].push(
      updated("1", msg("m5", 1, {
        text: "text m5, fixed",
        editTime: timestampFromMs(T0),
        reactions: [
          create(ReactionSchema, { senderJid: "1555002@s.whatsapp.net", emoji: "👍", time: timestampFromMs(T0) }),
          create(ReactionSchema, { senderJid: "1555003@s.whatsapp.net", emoji: "👍", time: timestampFromMs(T0) }),
          create(ReactionSchema, { senderJid: "", emoji: "🎉", time: timestampFromMs(T0) }),
        ],
      })),
    );
    // m2 revoked: no text, a tombstone in its place
    srv.streams[0].push(updated("2", msg("m2", 4, { text: "", revoked: true, editTime: timestampFromMs(T0) })));
    // another chat's message changes nothing here
    srv.streams[0].push(updated("3", msg("m4", 2, { chatId: "99", text: "elsewhere" })));
    await settle();
    expect(texts(w)).toEqual(["text m5, fixed", "text m4", "Photo", "This message was deleted", "text m1"]);
    const first = w.findAll('[data-testid="message"]')[0];
    expect(first.find('[data-testid="edited"]').text()).toBe("edited");
    expect(first.findAll('[data-testid="reaction"]').map((r) => [r.text(), r.attributes("title")])).toEqual([
      ["👍2", "Admin Ann, +1555003"],
      ["🎉", "You"],
    ]);
    const revoked = w.findAll('[data-testid="message"]')[3];
    expect(revoked.find('[data-testid="revoked"]').exists()).toBe(true);
    expect(revoked.find('[data-testid="edited"]').exists()).toBe(false); // a revoked message is not shown as edited
  });

  it("moves to the chat this one was merged into", async () => {
    const srv = server();
    stream = createChatStream(createClient(ChatService, srv.transport), { backoff: () => 0 });
    stream.start();
    const router = testRouter();
    w = await mountWith(ChatView, { transport: srv.transport, stream, router, props: { id: "5" } });
    await settle();
    const removed = (id: string, chatId: string, mergedInto: string) =>
      create(StreamChatUpdatesResponseSchema, { eventId: id, event: { case: "chatRemoved", value: { chatId, mergedInto, sessionId: "1" } } });
    srv.streams[0].push(removed("1", "77", "78")); // another chat: stays
    await settle();
    expect(router.currentRoute.value.fullPath).toBe("/");
    srv.streams[0].push(removed("2", "5", "9"));
    await settle();
    expect(router.currentRoute.value.fullPath).toBe("/chats/9");
  });

  it("explains a chat that does not exist", async () => {
    w = await mountWith(ChatView, { transport: server({ notFound: true }).transport, props: { id: "5" } });
    await settle();
    expect(w.get('[role="alert"]').text()).toContain("Not found");
  });
});
