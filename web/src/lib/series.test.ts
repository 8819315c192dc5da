import { describe, expect, it } from "vitest";
import { pushSample, sparklinePoints } from "./series";
import { formatDuration, relativeTime } from "./time";

describe("pushSample", () => {
  it("keeps only the samples inside the window", () => {
    let s = pushSample([], { t: 0, v: 1 }, 10_000);
    s = pushSample(s, { t: 5_000, v: 2 }, 10_000);
    s = pushSample(s, { t: 12_000, v: 3 }, 10_000);
    expect(s).toEqual([
      { t: 5_000, v: 2 },
      { t: 12_000, v: 3 },
    ]);
  });
});

describe("sparklinePoints", () => {
  it("maps time to x over the window and value to y from the bottom", () => {
    const pts = sparklinePoints(
      [
        { t: 0, v: 0 },
        { t: 50, v: 5 },
        { t: 100, v: 10 },
      ],
      100,
      20,
      100,
      100,
    );
    expect(pts).toBe("0,20 50,10 100,0");
    expect(sparklinePoints([], 100, 20, 100, 100)).toBe("");
  });
  it("draws an all-zero series on the bottom line", () => {
    expect(sparklinePoints([{ t: 100, v: 0 }], 100, 20, 100, 100)).toBe("100,20");
  });
});

describe("time formatting", () => {
  const now = new Date(2026, 0, 15, 12, 0, 0).getTime();
  it("gives short relative times", () => {
    expect(relativeTime(now - 20_000, now)).toBe("just now");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 min");
    expect(relativeTime(now - 3 * 3_600_000, now)).toBe("3 h");
    expect(relativeTime(new Date(2026, 0, 14, 9, 0).getTime(), now)).toBe("Yesterday");
    expect(relativeTime(undefined, now)).toBe("");
  });
  it("formats durations", () => {
    expect(formatDuration(850)).toBe("850 ms");
    expect(formatDuration(1234)).toBe("1.2 s");
    expect(formatDuration(185_000)).toBe("3 min 5 s");
    expect(formatDuration(undefined)).toBe("—");
  });
});
