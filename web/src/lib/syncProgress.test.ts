import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { SyncFailedSchema, SyncProgressSchema } from "../gen/chatsync/v1/chat_service_pb";
import { BatchKind } from "../gen/chatsync/v1/sync_pb";
import { pruneFinished, pushFailure, reduceSyncFailed, reduceSyncProgress, type FailureEntry } from "./syncProgress";

const progress = (sessionId: string, kind: BatchKind, written: number, total: number, pending: number) =>
  create(SyncProgressSchema, { sessionId, kind, writtenCount: written, totalSynced: BigInt(total), pendingBatches: BigInt(pending), batchId: "b" });

describe("reduceSyncProgress", () => {
  it("tracks a history sync per session until no batch is pending", () => {
    let s = reduceSyncProgress({}, progress("1", BatchKind.HISTORY, 100, 100, 3), 1000);
    s = reduceSyncProgress(s, progress("2", BatchKind.HISTORY, 10, 10, 1), 1100);
    s = reduceSyncProgress(s, progress("1", BatchKind.HISTORY, 50, 150, 2), 1200);
    expect(s["1"]).toMatchObject({ written: 150, totalSynced: 150, pending: 2, done: false, startedAt: 1000 });
    expect(s["2"]).toMatchObject({ written: 10, pending: 1, done: false });
    s = reduceSyncProgress(s, progress("1", BatchKind.HISTORY, 20, 170, 0), 1300);
    expect(s["1"]).toMatchObject({ written: 170, pending: 0, done: true });
  });

  it("does not start a run for live batches, but counts them in a running one", () => {
    const live = reduceSyncProgress({}, progress("1", BatchKind.LIVE, 1, 5, 0), 1000);
    expect(live).toEqual({});
    let s = reduceSyncProgress({}, progress("1", BatchKind.HISTORY, 100, 100, 2), 1000);
    s = reduceSyncProgress(s, progress("1", BatchKind.LIVE, 1, 101, 1), 1100);
    expect(s["1"]).toMatchObject({ written: 101, pending: 1, done: false });
    s = reduceSyncProgress(s, progress("1", BatchKind.HISTORY, 5, 106, 0), 1200);
    expect(s["1"].done).toBe(true);
    // a finished run is not reopened by live traffic; a new history batch starts afresh
    expect(reduceSyncProgress(s, progress("1", BatchKind.LIVE, 1, 107, 0), 1300)).toBe(s);
    expect(reduceSyncProgress(s, progress("1", BatchKind.HISTORY, 7, 113, 1), 1400)["1"]).toMatchObject({ written: 7, startedAt: 1400 });
  });

  it("marks failures and prunes finished runs after a while", () => {
    let s = reduceSyncProgress({}, progress("1", BatchKind.HISTORY, 1, 1, 0), 1000);
    s = reduceSyncFailed(s, create(SyncFailedSchema, { sessionId: "1", error: "db down", attempts: 3 }), 1001);
    expect(s["1"].error).toBe("db down");
    expect(pruneFinished(s, 5000, 10_000)).toBe(s);
    expect(pruneFinished(s, 20_000, 10_000)).toEqual({});
  });
});

describe("pushFailure", () => {
  const f = (eventId: string): FailureEntry => ({ eventId, sessionId: "1", batchId: "b", error: "e", attempts: 3, at: 0 });
  it("keeps newest first, skips a repeated event and caps the list", () => {
    let l = pushFailure([], f("1"));
    l = pushFailure(l, f("2"));
    l = pushFailure(l, f("2"));
    expect(l.map((x) => x.eventId)).toEqual(["2", "1"]);
    for (let i = 3; i < 10; i++) l = pushFailure(l, f(String(i)), 5);
    expect(l.map((x) => x.eventId)).toEqual(["9", "8", "7", "6", "5"]);
  });
});
