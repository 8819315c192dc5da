import { describe, expect, it } from "vitest";
import { Provider, SessionStatus } from "../gen/chatsync/v1/session_pb";
import { sessionStatusLabel } from "./labels";

describe("sessionStatusLabel", () => {
  it("says what pending means for each provider", () => {
    expect(sessionStatusLabel(SessionStatus.PENDING, Provider.WHATSMEOW)).toBe("Not paired");
    expect(sessionStatusLabel(SessionStatus.PENDING, Provider.WEBJS)).toBe("Waiting for sidecar");
    expect(sessionStatusLabel(SessionStatus.PENDING, Provider.META_CLOUD)).toBe("Not connected");
    expect(sessionStatusLabel(SessionStatus.PENDING)).toBe("Not paired");
  });

  it("names the other states the same for every provider", () => {
    expect(sessionStatusLabel(SessionStatus.CONNECTED, Provider.WEBJS)).toBe("Connected");
    expect(sessionStatusLabel(SessionStatus.STREAM_REPLACED)).toBe("Replaced by another client");
  });
});
