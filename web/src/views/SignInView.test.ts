import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { SessionService } from "../gen/chatsync/v1/session_service_pb";
import { currentToken, signOut } from "../composables/useAuth";
import { tokenStorageKey } from "../lib/auth";
import { mountWith, settle, testRouter } from "../test/mount";
import SignInView from "./SignInView.vue";

function server(valid: string, opts: { unimplemented?: boolean } = {}) {
  const seen: string[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(SessionService, {
      listSessions(_req, ctx) {
        const h = ctx.requestHeader.get("Authorization") ?? "";
        seen.push(h);
        if (opts.unimplemented) throw new ConnectError("", Code.Unimplemented);
        if (h !== `Bearer ${valid}`) throw new ConnectError("invalid api token", Code.Unauthenticated);
        return { sessions: [] };
      },
    });
  });
  return { transport, seen };
}

afterEach(() => signOut());

async function submit(token: string, transport: ReturnType<typeof server>["transport"]) {
  const router = testRouter();
  const w = await mountWith(SignInView, { transport, router });
  await w.get("input#token").setValue(token);
  expect(w.get('label[for="token"]').text()).toBe("API token");
  await w.get("form").trigger("submit");
  await settle();
  return { w, router };
}

describe("SignInView", () => {
  it("rejects a wrong token with a clear message and keeps nothing", async () => {
    const srv = server("good");
    const { w, router } = await submit("bad", srv.transport);
    expect(srv.seen).toEqual(["Bearer bad"]);
    expect(w.get('[role="alert"]').text()).toContain("That token was not accepted");
    expect(localStorage.getItem(tokenStorageKey)).toBeNull();
    expect(currentToken()).toBe("");
    expect(router.currentRoute.value.path).toBe("/");
    w.unmount();
  });

  it("keeps a valid token (pasted with a Bearer prefix) and goes to the chats", async () => {
    const srv = server("good");
    const { w, router } = await submit("  Bearer good ", srv.transport);
    expect(srv.seen).toEqual(["Bearer good"]);
    expect(localStorage.getItem(tokenStorageKey)).toBe("good");
    expect(currentToken()).toBe("good");
    expect(router.currentRoute.value.path).toBe("/chats");
    signOut();
    expect(localStorage.getItem(tokenStorageKey)).toBeNull();
    w.unmount();
  });

  it("accepts the token when the server cannot check it yet (unimplemented)", async () => {
    const srv = server("x", { unimplemented: true });
    const { w } = await submit("anything", srv.transport);
    expect(currentToken()).toBe("anything");
    w.unmount();
  });
});
