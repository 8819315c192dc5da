import { describe, expect, it, vi } from "vitest";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { SessionService } from "../gen/chatsync/v1/session_service_pb";
import { authInterceptor, loadToken, normalizeToken, saveToken, tokenStorageKey } from "./auth";

function transportSeeing(headers: string[], reject?: string) {
  return (getToken: () => string, onRejected: (t: string) => void) =>
    createRouterTransport(
      ({ service }) => {
        service(SessionService, {
          listSessions(_req, ctx) {
            const h = ctx.requestHeader.get("Authorization") ?? "";
            headers.push(h);
            if (reject && h === `Bearer ${reject}`) throw new ConnectError("invalid token", Code.Unauthenticated);
            return { sessions: [] };
          },
        });
      },
      { transport: { interceptors: [authInterceptor(getToken, onRejected)] } },
    );
}

describe("authInterceptor", () => {
  it("sends the stored token as a bearer token", async () => {
    const headers: string[] = [];
    const client = createClient(SessionService, transportSeeing(headers)(() => "tok-1", vi.fn()));
    await client.listSessions({});
    expect(headers).toEqual(["Bearer tok-1"]);
  });

  it("keeps an explicit Authorization header (sign-in checks a candidate token)", async () => {
    const headers: string[] = [];
    const onRejected = vi.fn();
    const client = createClient(SessionService, transportSeeing(headers, "cand")(() => "stored", onRejected));
    await expect(client.listSessions({}, { headers: { Authorization: "Bearer cand" } })).rejects.toThrow();
    expect(headers).toEqual(["Bearer cand"]);
    expect(onRejected).not.toHaveBeenCalled();
  });

  it("reports the stored token when the server rejects it", async () => {
    const onRejected = vi.fn();
    const client = createClient(SessionService, transportSeeing([], "old")(() => "old", onRejected));
    await expect(client.listSessions({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(onRejected).toHaveBeenCalledWith("old");
  });
});

describe("token storage", () => {
  it("round-trips through localStorage and clears on empty", () => {
    saveToken("abc");
    expect(localStorage.getItem(tokenStorageKey)).toBe("abc");
    expect(loadToken()).toBe("abc");
    saveToken("");
    expect(localStorage.getItem(tokenStorageKey)).toBeNull();
    expect(loadToken()).toBe("");
  });
  it("normalizes pasted tokens", () => {
    expect(normalizeToken("  Bearer abc.def \n")).toBe("abc.def");
    expect(normalizeToken('"xyz"')).toBe("xyz");
  });
});
