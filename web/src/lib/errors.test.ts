import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { describeError, describeSendError } from "./errors";

describe("describeError", () => {
  const cases: [Code, RegExp][] = [
    [Code.Unauthenticated, /API token was not accepted/],
    [Code.NotFound, /^Not found/],
    [Code.Unavailable, /unavailable right now/],
    [Code.Unimplemented, /not available yet on this server/],
    [Code.PermissionDenied, /not allowed/],
    [Code.Internal, /internal error/],
  ];
  it.each(cases)("code %s gets a readable message", (code, want) => {
    const r = describeError(new ConnectError("{\"raw\":\"json\"}", code));
    expect(r.code).toBe(code);
    expect(r.message).toMatch(want);
    expect(r.message).not.toContain("{");
  });

  it("adds the server's sentence for argument, precondition and limit errors", () => {
    expect(describeError(new ConnectError("page_size: must be >= 0", Code.InvalidArgument)).message).toBe(
      "The request was not valid: page_size: must be >= 0",
    );
    expect(describeError(new ConnectError("session is not paired yet", Code.FailedPrecondition)).message).toBe(
      "Not possible right now: session is not paired yet",
    );
    expect(describeError(new ConnectError("60 SyncBatch calls per minute; retry in 12 s", Code.ResourceExhausted)).message).toContain(
      "retry in 12 s",
    );
  });

  it("never shows a raw JSON or HTML payload", () => {
    const r = describeError(new ConnectError('{"code":"invalid_argument","message":"x"}', Code.InvalidArgument));
    expect(r.message).toBe("The request was not valid.");
    expect(describeError(new ConnectError("<html>502</html>", Code.FailedPrecondition)).message).toBe("Not possible right now.");
  });

  it("explains a network failure and unknown errors", () => {
    const net = new ConnectError("Failed to fetch", Code.Unknown, undefined, undefined, new TypeError("Failed to fetch"));
    expect(describeError(net).message).toMatch(/Cannot reach the server/);
    expect(describeError(new Error("boom")).message).toBe("Something went wrong talking to the server.");
  });
});

describe("describeSendError", () => {
  it("shows why no provider could send", () => {
    const e = new ConnectError("no provider could send the message; tried webjs (session 3): no sidecar is attached", Code.Unavailable);
    expect(describeSendError(e)).toEqual({
      code: Code.Unavailable,
      message: "The message was not sent: no provider could send the message; tried webjs (session 3): no sidecar is attached",
    });
  });

  it("falls back to the generic texts for other codes and bare unavailable", () => {
    expect(describeSendError(new ConnectError("", Code.Unavailable)).message).toBe("The message was not sent.");
    expect(describeSendError(new ConnectError("x", Code.NotFound)).message).toMatch(/^Not found/);
  });
});
