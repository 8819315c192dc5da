import { afterEach, describe, expect, it } from "vitest";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import type { VueWrapper } from "@vue/test-utils";
import { SessionService } from "../gen/chatsync/v1/session_service_pb";
import type { PairSessionRequest, PairSessionResponse } from "../gen/chatsync/v1/session_service_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { PairSessionResponseSchema } from "../gen/chatsync/v1/session_service_pb";
import { session } from "../test/fixtures";
import { mountWith, settle } from "../test/mount";
import { pushable } from "../test/pushable";
import PairPanel from "./PairPanel.vue";

type Step = MessageInitShape<typeof PairSessionResponseSchema>;

function server(opts: { precondition?: boolean } = {}) {
  const requests: PairSessionRequest[] = [];
  const steps = pushable<Step>();
  const transport = createRouterTransport(({ service }) => {
    service(SessionService, {
      async *pairSession(req, ctx) {
        requests.push(req);
        if (opts.precondition) throw new ConnectError("session uses the webjs provider", Code.FailedPrecondition);
        for await (const s of steps.iterate(ctx.signal)) yield s as PairSessionResponse;
      },
    });
  });
  return { transport, requests, steps };
}

let w: VueWrapper | undefined;
afterEach(() => {
  w?.unmount();
  w = undefined;
});

const qr = () => w!.find('img[aria-label="Pairing QR code"]');

describe("PairPanel", () => {
  it("renders each QR code as it rotates, then success", async () => {
    const srv = server();
    w = await mountWith(PairPanel, { transport: srv.transport, props: { session: session("3", "Phone A") } });
    await w.get("form").trigger("submit");
    await settle();
    expect(srv.requests[0]).toMatchObject({ sessionId: "3", phoneNumber: "" });
    expect(w.text()).toContain("Asking WhatsApp");

    srv.steps.push({ event: { case: "qrCode", value: { code: "2@first-ref,key1,key2" } } });
    await settle(10);
    expect(qr().exists()).toBe(true);
    const first = qr().attributes("src")!;
    expect(first.startsWith("data:image/svg+xml")).toBe(true);
    expect(qr().attributes("data-rotation")).toBe("1");

    srv.steps.push({ event: { case: "qrCode", value: { code: "2@second-ref,key1,key2" } } });
    await settle(10);
    expect(qr().attributes("data-rotation")).toBe("2");
    expect(qr().attributes("src")).not.toBe(first);

    srv.steps.push({ event: { case: "success", value: { jid: "15551234567:12@s.whatsapp.net", pushName: "Ana" } } });
    srv.steps.end();
    await settle(10);
    expect(qr().exists()).toBe(false);
    expect(w.text()).toContain("Paired as Ana");
    expect(w.emitted("paired")?.[0]).toEqual(["15551234567:12@s.whatsapp.net", "Ana"]);
  });

  it("shows a phone pairing code when a number is given, and failures", async () => {
    const srv = server();
    w = await mountWith(PairPanel, { transport: srv.transport, props: { session: session("3", "Phone A") } });
    await w.get('input[type="tel"]').setValue("+15551234567");
    await w.get("form").trigger("submit");
    await settle();
    expect(srv.requests[0].phoneNumber).toBe("+15551234567");
    srv.steps.push({ event: { case: "phoneCode", value: { code: "ABCD-EFGH" } } });
    await settle(10);
    expect(w.get('[data-testid="phone-code"]').text()).toBe("ABCD-EFGH");
    srv.steps.push({ event: { case: "failure", value: { reason: "code expired" } } });
    srv.steps.end();
    await settle(10);
    expect(w.get('[role="alert"]').text()).toBe("Pairing failed: code expired");
  });

  it("explains that only whatsmeow sessions pair", async () => {
    const srv = server({ precondition: true });
    w = await mountWith(PairPanel, { transport: srv.transport, props: { session: session("3", "Sidecar") } });
    await w.get("form").trigger("submit");
    await settle(10);
    expect(w.get('[role="alert"]').text()).toBe("Not possible right now: session uses the webjs provider");
  });
});
