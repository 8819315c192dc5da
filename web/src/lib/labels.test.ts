import { describe, expect, it } from "vitest";
import { Provider, SessionStatus, SidecarState } from "../gen/chatsync/v1/session_pb";
import { sessionStatusLabel, sidecarStateLabel } from "./labels";

describe("sidecarStateLabel", () => {
  it("names every state a sidecar reports", () => {
    expect(sidecarStateLabel(SidecarState.UNREACHABLE)).toBe("Sidecar cannot reach WhatsApp");
    expect(sidecarStateLabel(SidecarState.QR_WANTED)).toBe("Sidecar shows a QR code to scan");
    for (const s of [SidecarState.STARTING, SidecarState.AUTHENTICATED, SidecarState.READY, SidecarState.LOGGED_OUT]) {
      expect(sidecarStateLabel(s)).not.toBe("Sidecar state unknown");
    }
    expect(sidecarStateLabel(SidecarState.UNSPECIFIED)).toBe("Sidecar state unknown");
  });
});

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
