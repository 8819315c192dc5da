import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import { ChatService, type SendMessageRequest } from "../gen/chatsync/v1/chat_service_pb";
import type { Message } from "../gen/chatsync/v1/chat_pb";
import { Provider } from "../gen/chatsync/v1/session_pb";
import { mountWith, settle } from "../test/mount";
import MessageComposer from "./MessageComposer.vue";

function server(answer: (req: SendMessageRequest) => { messageId: string; provider: Provider; failedOver?: boolean }) {
  const requests: SendMessageRequest[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(ChatService, {
      sendMessage(req) {
        requests.push(req);
        return answer(req);
      },
    });
  });
  return { transport, requests };
}

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

describe("MessageComposer", () => {
  it("sends the trimmed text, clears the box and emits the sent message", async () => {
    const srv = server(() => ({ messageId: "3EB0AA", provider: Provider.WEBJS }));
    w = await mountWith(MessageComposer, { transport: srv.transport, props: { chatId: "42" } });
    expect(w.get("button[type=submit]").attributes("disabled")).toBeDefined();
    await w.get("textarea").setValue("  hello there \n");
    await w.get("form").trigger("submit");
    await settle();
    expect(srv.requests).toHaveLength(1);
    expect(srv.requests[0]).toMatchObject({ chatId: "42", text: "hello there" });
    expect((w.get("textarea").element as HTMLTextAreaElement).value).toBe("");
    expect(w.get('[role="status"]').text()).toBe("Sent (Web.js).");
    const sent = w.emitted("sent")?.[0]?.[0] as Message;
    expect(sent).toMatchObject({ id: "3EB0AA", chatId: "42", fromMe: true, text: "hello there" });
  });

  it("says when the backup session sent it", async () => {
    const srv = server(() => ({ messageId: "X1", provider: Provider.META_CLOUD, failedOver: true }));
    w = await mountWith(MessageComposer, { transport: srv.transport, props: { chatId: "42" } });
    await w.get("textarea").setValue("hi");
    await w.get("textarea").trigger("keydown", { key: "Enter" });
    await settle();
    expect(srv.requests).toHaveLength(1);
    expect(w.get('[role="status"]').text()).toBe("Sent through the backup session (Meta API).");
  });

  it("shows the server's reason when no provider could send, and keeps the draft", async () => {
    const srv = server(() => {
      throw new ConnectError("no provider could send the message; tried webjs (session 3): no sidecar is attached", Code.Unavailable);
    });
    w = await mountWith(MessageComposer, { transport: srv.transport, props: { chatId: "42" } });
    await w.get("textarea").setValue("hi");
    await w.get("form").trigger("submit");
    await settle();
    expect(w.get('[role="alert"]').text()).toBe("The message was not sent: no provider could send the message; tried webjs (session 3): no sidecar is attached");
    expect((w.get("textarea").element as HTMLTextAreaElement).value).toBe("hi");
    expect(w.emitted("sent")).toBeUndefined();
  });

  it("does not send on Shift+Enter or an empty box", async () => {
    const srv = server(() => ({ messageId: "X", provider: Provider.WEBJS }));
    w = await mountWith(MessageComposer, { transport: srv.transport, props: { chatId: "42" } });
    await w.get("textarea").setValue("   ");
    await w.get("form").trigger("submit");
    await w.get("textarea").setValue("line");
    await w.get("textarea").trigger("keydown", { key: "Enter", shiftKey: true });
    await settle();
    expect(srv.requests).toHaveLength(0);
  });
});
