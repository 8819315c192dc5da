import { describe, expect, it } from "vitest";
import { ChatType } from "../gen/chatsync/v1/chat_pb";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { chat, group, T0 } from "../test/fixtures";
import { applyChatUpsert, compareChats, mergeById, prependById } from "./chatList";
import { defaultFilters } from "./filters";

const ids = (l: { id: string }[]) => l.map((c) => c.id);

describe("mergeById", () => {
  it("appends a page without duplicating chats already listed", () => {
    const list = [chat("9"), chat("8")];
    const page = [chat("8", { name: "stale copy" }), chat("7"), chat("7")];
    const out = mergeById(list, page);
    expect(ids(out)).toEqual(["9", "8", "7"]);
    // The copy already in the list (from a live update) wins.
    expect(out[1].name).toBe("Chat 8");
    expect(list).toHaveLength(2); // input untouched
  });
  it("prependById keeps a single copy", () => {
    expect(ids(prependById([chat("2")], chat("1")))).toEqual(["1", "2"]);
    expect(ids(prependById([chat("2")], chat("2")))).toEqual(["2"]);
  });
});

describe("compareChats", () => {
  it("orders by newest activity, then higher ID", () => {
    const list = [chat("5", { minutesAgo: 10 }), chat("10", { minutesAgo: 1 }), chat("9", { minutesAgo: 1 }), chat("100", { minutesAgo: 10 })];
    expect(ids(list.sort(compareChats))).toEqual(["10", "9", "100", "5"]);
  });
});

describe("applyChatUpsert", () => {
  const base = () => [chat("3", { minutesAgo: 1 }), chat("2", { minutesAgo: 5 }), chat("1", { minutesAgo: 9 })];
  const all = defaultFilters();

  it("inserts a new chat with fresh activity at the top", () => {
    const r = applyChatUpsert(base(), chat("4", { minutesAgo: 0 }), all, { hasMore: true });
    expect(r.change).toBe("inserted");
    expect(ids(r.list)).toEqual(["4", "3", "2", "1"]);
  });

  it("moves a chat with new activity to the top, without a duplicate", () => {
    const r = applyChatUpsert(base(), chat("1", { minutesAgo: 0, lastMessagePreview: "new!" }), all, { hasMore: false });
    expect(r.change).toBe("moved");
    expect(ids(r.list)).toEqual(["1", "3", "2"]);
    expect(r.list[0].lastMessagePreview).toBe("new!");
  });

  it("updates in place when activity did not advance (read on the phone, members changed)", () => {
    const before = [group("3", 4, { minutesAgo: 1 }), chat("2", { minutesAgo: 5 })];
    const r = applyChatUpsert(before, group("3", 6, { minutesAgo: 1 }), all, { hasMore: false });
    expect(r.change).toBe("updated");
    expect(ids(r.list)).toEqual(["3", "2"]);
    expect(r.list[0].participantCount).toBe(6);
  });

  it("drops a listed chat that no longer matches the filters", () => {
    const unread = { ...all, unreadOnly: true };
    const list = [chat("2", { unreadCount: 1 }), chat("1", { unreadCount: 3 })];
    const r = applyChatUpsert(list, chat("2", { unreadCount: 0 }), unread, { hasMore: false });
    expect(r.change).toBe("removed");
    expect(ids(r.list)).toEqual(["1"]);
  });

  it("ignores chats of other sessions or types", () => {
    const r1 = applyChatUpsert(base(), chat("9", { sessionId: "2" }), { ...all, sessionId: "1" }, { hasMore: false });
    expect(r1.change).toBe("ignored");
    const r2 = applyChatUpsert(base(), chat("9"), { ...all, type: ChatType.GROUP }, { hasMore: false });
    expect(r2.change).toBe("ignored");
    expect(ids(r2.list)).toEqual(["3", "2", "1"]);
  });

  it("leaves a chat older than everything loaded to pagination when more pages exist", () => {
    const old = chat("0", { minutesAgo: 60 });
    expect(applyChatUpsert(base(), old, all, { hasMore: true }).change).toBe("ignored");
    const r = applyChatUpsert(base(), old, all, { hasMore: false });
    expect(r.change).toBe("inserted");
    expect(ids(r.list)).toEqual(["3", "2", "1", "0"]);
  });

  it("keeps the list free of duplicates when the next page repeats a live-inserted chat", () => {
    const live = applyChatUpsert(base(), chat("4", { lastActivityTime: timestampFromMs(T0 + 1000) }), all, { hasMore: true }).list;
    const merged = mergeById(live, [chat("4"), chat("0", { minutesAgo: 20 })]);
    expect(ids(merged)).toEqual(["4", "3", "2", "1", "0"]);
  });
});
