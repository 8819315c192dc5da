import { afterEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import { Provider, SessionSchema, SessionStatus, SidecarState, SidecarStatusSchema, SyncConfigSchema, type Session } from "../gen/chatsync/v1/session_pb";
import { SessionService, type CreateSessionRequest, type UpdateSessionRequest } from "../gen/chatsync/v1/session_service_pb";
import { session } from "../test/fixtures";
import { mountWith, settle } from "../test/mount";
import SessionsView from "./SessionsView.vue";

function server(opts: { unimplemented?: boolean; deleteBusy?: boolean; salesRate?: number } = {}) {
  let sessions: Session[] = [session("1", "Support line", Provider.WHATSMEOW, SessionStatus.CONNECTED), session("2", "Sales", Provider.WEBJS, SessionStatus.PENDING)];
  if (opts.salesRate) sessions[1].syncConfig = create(SyncConfigSchema, { ratePerMinute: opts.salesRate });
  const calls: { method: string; req: unknown }[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(SessionService, {
      listSessions() {
        if (opts.unimplemented) throw new ConnectError("", Code.Unimplemented);
        return { sessions };
      },
      createSession(req: CreateSessionRequest) {
        calls.push({ method: "create", req });
        const s = create(SessionSchema, { id: "3", displayName: req.displayName, provider: req.provider, status: SessionStatus.PENDING, syncConfig: req.syncConfig });
        sessions = [...sessions, s];
        return { session: s, sidecarSecret: "a".repeat(64) };
      },
      deleteSession(req) {
        calls.push({ method: "delete", req });
        if (opts.deleteBusy) throw new ConnectError("session has 2 batches queued", Code.FailedPrecondition);
        sessions = sessions.filter((s) => s.id !== req.sessionId);
        return {};
      },
      rotateSessionSecret(req) {
        calls.push({ method: "rotate", req });
        return { sidecarSecret: "b".repeat(64) };
      },
      updateSession(req) {
        calls.push({ method: "update", req });
        if (req.displayName === "taken") throw new ConnectError("display_name: value length must be at most 100 characters", Code.InvalidArgument);
        const i = sessions.findIndex((s) => s.id === req.sessionId);
        const s = create(SessionSchema, { ...sessions[i], displayName: req.displayName ?? sessions[i].displayName, syncConfig: req.syncConfig ?? sessions[i].syncConfig });
        sessions = sessions.map((x, j) => (j === i ? s : x));
        return { session: s };
      },
      resyncSession(req) {
        calls.push({ method: "resync", req });
        return { commandId: req.sessionId === "2" ? "cmd-7" : "" };
      },
    });
  });
  return { transport, calls };
}

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

const rows = () => w!.findAll('[data-testid="session-row"]');
const button = (label: string) => {
  const b = w!.findAll("button").find((x) => x.attributes("aria-label") === label || x.text() === label);
  if (!b) throw new Error(`no button ${label}`);
  return b;
};

describe("SessionsView", () => {
  it("lists sessions with provider and status", async () => {
    w = await mountWith(SessionsView, { transport: server().transport });
    await settle();
    expect(rows().map((r) => r.attributes("aria-label"))).toEqual(["Support line", "Sales"]);
    expect(rows()[0].get('[data-testid="provider-badge"]').text()).toBe("whatsmeow");
    expect(rows()[0].text()).toContain("Connected");
    expect(rows()[1].get('[data-testid="provider-badge"]').text()).toBe("Web.js");
    expect(rows()[1].text()).toContain("Waiting for sidecar");
    // Only whatsmeow sessions pair.
    expect(rows()[0].text()).toContain("Pair");
    expect(rows()[1].findAll("button").map((b) => b.text())).not.toContain("Pair");
  });

  it("shows what a sidecar reported: its state and last error", async () => {
    const srv = server();
    w = await mountWith(SessionsView, { transport: srv.transport });
    await settle();
    expect(rows()[1].find('[data-testid="sidecar-state"]').exists()).toBe(false); // no report yet
    w.unmount();
    const transport = createRouterTransport(({ service }) => {
      service(SessionService, {
        listSessions() {
          const s = session("2", "Sales", Provider.WEBJS, SessionStatus.DISCONNECTED);
          s.sidecar = create(SidecarStatusSchema, { state: SidecarState.UNREACHABLE, lastError: "net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/" });
          return { sessions: [s] };
        },
      });
    });
    w = await mountWith(SessionsView, { transport });
    await settle();
    expect(rows()[0].get('[data-testid="sidecar-state"]').text()).toBe("Sidecar cannot reach WhatsApp");
    expect(rows()[0].text()).toContain("net::ERR_NAME_NOT_RESOLVED");
    expect(rows()[0].text()).toContain("Disconnected");
  });

  it("creates a session with sync config and shows its secret once, copyable", async () => {
    const srv = server();
    const writeText = vi.fn().mockResolvedValue(undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    w = await mountWith(SessionsView, { transport: srv.transport });
    await settle();
    await button("New session").trigger("click");
    await w.get("select#new-provider").setValue(String(Provider.WEBJS));
    await w.get("input#new-name").setValue("Night shift");
    await w.get("input#new-max-chats").setValue("500");
    await w.get("input#new-window").setValue("30");
    await w.get("input#new-messages").setValue("250");
    await w.get("form").trigger("submit");
    await settle();
    expect(srv.calls[0].req).toMatchObject({ displayName: "Night shift", provider: Provider.WEBJS, syncConfig: { maxChats: 500, syncWindowDays: 30, messagesPerChat: 250 } });
    expect(rows().map((r) => r.attributes("aria-label"))).toContain("Night shift");
    const secret = w.get('[data-testid="sidecar-secret"]');
    expect((secret.get("input").element as HTMLInputElement).value).toBe("a".repeat(64));
    await button("Copy").trigger("click");
    await settle();
    expect(writeText).toHaveBeenCalledWith("a".repeat(64));
    expect(secret.text()).toContain("Copied");
    await button("I have stored it").trigger("click");
    expect(w.find('[data-testid="sidecar-secret"]').exists()).toBe(false);
  });

  it("opens the pairing panel for a whatsmeow session", async () => {
    w = await mountWith(SessionsView, { transport: server().transport });
    await settle();
    await button("Pair Support line").trigger("click");
    expect(w.get('[data-testid="pair-panel"]').text()).toContain("Pair “Support line”");
  });

  it("deletes only after confirmation", async () => {
    const srv = server();
    w = await mountWith(SessionsView, { transport: srv.transport });
    await settle();
    await button("Delete Sales").trigger("click");
    expect(w.get('[role="alertdialog"]').text()).toContain("Delete “Sales”?");
    await button("Cancel").trigger("click");
    expect(srv.calls).toEqual([]);
    expect(rows()).toHaveLength(2);
    await button("Delete Sales").trigger("click");
    await button("Delete session").trigger("click");
    await settle();
    expect(srv.calls).toEqual([{ method: "delete", req: expect.objectContaining({ sessionId: "2" }) }]);
    expect(rows().map((r) => r.attributes("aria-label"))).toEqual(["Support line"]);
    expect(w.find('[role="alertdialog"]').exists()).toBe(false);
  });

  it("keeps the dialog open with the reason when deletion is refused", async () => {
    w = await mountWith(SessionsView, { transport: server({ deleteBusy: true }).transport });
    await settle();
    await button("Delete Sales").trigger("click");
    await button("Delete session").trigger("click");
    await settle();
    expect(w.get('[role="alertdialog"] [role="alert"]').text()).toBe("Not possible right now: session has 2 batches queued");
    expect(rows()).toHaveLength(2);
  });

  it("rotates a secret after confirmation and requests a resync", async () => {
    const srv = server();
    w = await mountWith(SessionsView, { transport: srv.transport });
    await settle();
    await button("Rotate secret of Sales").trigger("click");
    expect(w.get('[role="alertdialog"]').text()).toContain("stops working at once");
    await w.get('[role="alertdialog"] .btn-danger-solid').trigger("click");
    await settle();
    expect((w.get('[data-testid="sidecar-secret"] input').element as HTMLInputElement).value).toBe("b".repeat(64));
    await button("Resync Sales").trigger("click");
    await settle();
    expect(rows()[1].text()).toContain("command cmd-7");
    expect(srv.calls.map((c) => c.method)).toEqual(["rotate", "resync"]);
  });

  it("says when sessions are not available on this server yet", async () => {
    w = await mountWith(SessionsView, { transport: server({ unimplemented: true }).transport });
    await settle();
    expect(w.get('[role="alert"]').text()).toBe("This is not available yet on this server.");
  });

  it("renames a session and changes its sync config, sending only what changed", async () => {
    const srv = server({ salesRate: 120 });
    w = await mountWith(SessionsView, { transport: srv.transport });
    await settle();
    await button("Edit Sales").trigger("click");
    const form = w.get('form[aria-labelledby="edit-title-2"]');
    await form.get("#edit-name-2").setValue("Sales EU");
    await form.trigger("submit");
    await settle();
    let req = srv.calls.at(-1)!.req as UpdateSessionRequest;
    expect(req).toMatchObject({ sessionId: "2", displayName: "Sales EU" });
    expect(req.syncConfig).toBeUndefined();
    expect(rows()[1].text()).toContain("Sales EU");
    expect(rows()[1].text()).toContain("Changes saved.");
    expect(w.find('form[aria-labelledby="edit-title-2"]').exists()).toBe(false);

    await button("Edit Sales EU").trigger("click");
    await w.get("#edit-max-chats-2").setValue(500);
    await w.get("#edit-window-2").setValue(30);
    await w.get("#edit-messages-2").setValue(300);
    await w.get('form[aria-labelledby="edit-title-2"]').trigger("submit");
    await settle();
    req = srv.calls.at(-1)!.req as UpdateSessionRequest;
    // The rate the form does not show is sent back as it was, not reset.
    expect(req).toMatchObject({ sessionId: "2", syncConfig: { maxChats: 500, syncWindowDays: 30, messagesPerChat: 300, ratePerMinute: 120 } });
    expect(req.displayName).toBeUndefined();
  });

  it("keeps the edit form open with the reason when the server refuses", async () => {
    const srv = server();
    w = await mountWith(SessionsView, { transport: srv.transport });
    await settle();
    await button("Edit Sales").trigger("click");
    await w.get("#edit-name-2").setValue("taken");
    await w.get('form[aria-labelledby="edit-title-2"]').trigger("submit");
    await settle();
    expect(w.get('form[aria-labelledby="edit-title-2"] [role="alert"]').text()).toContain("The request was not valid: display_name");
    const updates = srv.calls.filter((c) => c.method === "update").length;
    await button("Cancel").trigger("click");
    expect(w.find('form[aria-labelledby="edit-title-2"]').exists()).toBe(false);
    expect(srv.calls.filter((c) => c.method === "update")).toHaveLength(updates);
  });
});
