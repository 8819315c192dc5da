import { describe, expect, it } from "vitest";
import { mount } from "@vue/test-utils";
import ConnectionStatus from "./ConnectionStatus.vue";

describe("ConnectionStatus", () => {
  it("shows Reconnecting with the retry delay and a retry button", async () => {
    const w = mount(ConnectionStatus, { props: { state: "reconnecting", retryInMs: 4200 } });
    expect(w.get('[role="status"]').text()).toContain("Reconnecting");
    expect(w.get('[data-testid="connection-state"]').attributes("title")).toBe("Connection lost; retrying in 5 s");
    await w.get("button").trigger("click");
    expect(w.emitted("retry")).toHaveLength(1);
  });
  it("shows Live, and nothing when idle", async () => {
    const w = mount(ConnectionStatus, { props: { state: "live" } });
    expect(w.text()).toContain("Live");
    expect(w.find("button").exists()).toBe(false);
    await w.setProps({ state: "idle" });
    expect(w.text()).toBe("");
    await w.setProps({ state: "unavailable" });
    expect(w.text()).toContain("Live updates unavailable");
  });
});
