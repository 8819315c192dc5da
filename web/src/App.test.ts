import { afterEach, describe, expect, it } from "vitest";
import { mount, type VueWrapper } from "@vue/test-utils";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { ChatService } from "./gen/chatsync/v1/chat_service_pb";
import { SessionService } from "./gen/chatsync/v1/session_service_pb";
import App from "./App.vue";
import { currentToken, signIn, signOut, useAuth } from "./composables/useAuth";
import { authInterceptor } from "./lib/auth";
import { tokenRejected } from "./composables/useAuth";
import { transportKey } from "./keys";
import { createAppRouter } from "./router";
import { chat } from "./test/fixtures";
import { settle } from "./test/mount";

// The app as main.ts wires it, over an in-memory server that accepts one token.
function app(validToken: string) {
  const transport = createRouterTransport(
    ({ service }) => {
      const check = (h: Headers) => {
        if (h.get("Authorization") !== `Bearer ${validToken}`) throw new ConnectError("invalid token", Code.Unauthenticated);
      };
      service(ChatService, {
        listChats(_req, ctx) {
          check(ctx.requestHeader);
          return { chats: [chat("1", { name: "Alice" })] };
        },
        async *streamChatUpdates(_req, ctx) {
          check(ctx.requestHeader);
          await new Promise((r) => ctx.signal.addEventListener("abort", r));
        },
      });
      service(SessionService, {
        listSessions(_req, ctx) {
          check(ctx.requestHeader);
          return { sessions: [] };
        },
      });
    },
    { transport: { interceptors: [authInterceptor(currentToken, tokenRejected)] } },
  );
  const router = createAppRouter();
  return { transport, router };
}

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
  signOut();
  window.location.hash = "";
});

async function start(validToken: string, path: string) {
  const { transport, router } = app(validToken);
  await router.push(path);
  await router.isReady();
  w = mount(App, { attachTo: document.body, global: { plugins: [router], provide: { [transportKey as symbol]: transport } } });
  await settle(10);
  return router;
}

describe("App", () => {
  it("sends signed-out visitors to the sign-in page", async () => {
    const router = await start("t", "/chats/5");
    expect(router.currentRoute.value.name).toBe("signin");
    expect(router.currentRoute.value.query.redirect).toBe("/chats/5");
    expect(w!.find("nav").exists()).toBe(false);
    expect(w!.get("h1").text()).toBe("Sign in to chatsync");
  });

  it("shows the chats with navigation when signed in, and signs out", async () => {
    signIn("good");
    const router = await start("good", "/chats");
    expect(w!.get("nav").text()).toMatch(/Chats.*Sessions.*Monitoring/);
    expect(w!.findAll('[data-testid="chat-row"]').map((r) => r.attributes("aria-label"))).toEqual(["Alice"]);
    await w!.findAll("button").find((b) => b.text() === "Sign out")!.trigger("click");
    await settle();
    expect(currentToken()).toBe("");
    expect(router.currentRoute.value.name).toBe("signin");
  });

  it("signs out with a clear notice when the server rejects the stored token", async () => {
    signIn("revoked");
    const router = await start("good", "/chats");
    await settle(10);
    expect(currentToken()).toBe("");
    expect(router.currentRoute.value.name).toBe("signin");
    expect(useAuth().notice.value).toContain("no longer accepts your API token");
    expect(w!.text()).toContain("no longer accepts your API token");
  });
});
