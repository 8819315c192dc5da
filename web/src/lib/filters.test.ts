import { describe, expect, it } from "vitest";
import { ChatType } from "../gen/chatsync/v1/chat_pb";
import { chat, group } from "../test/fixtures";
import { defaultFilters, isFiltered, matchesFilters, matchesQuery, toListChatsRequest, type ChatFilters } from "./filters";

const f = (over: Partial<ChatFilters>): ChatFilters => ({ ...defaultFilters(), ...over });

describe("matchesFilters", () => {
  const alice = chat("1", { name: "Alice Smith", contactName: "Ali", phone: "+15551234567", sessionId: "7", unreadCount: 2 });
  const team = group("2", 5, { name: "Team Berlin", sessionId: "8", unreadCount: 0 });

  it("lets everything through with the default filters", () => {
    expect(matchesFilters(alice, defaultFilters())).toBe(true);
    expect(matchesFilters(team, defaultFilters())).toBe(true);
    expect(isFiltered(defaultFilters())).toBe(false);
  });

  it("keeps archived or not archived chats, and chats marked unread as unread", () => {
    const archived = chat("3", { archived: true, unreadCount: 0, markedUnread: true });
    expect(matchesFilters(archived, f({ archived: "archived" }))).toBe(true);
    expect(matchesFilters(archived, f({ archived: "main" }))).toBe(false);
    expect(matchesFilters(alice, f({ archived: "archived" }))).toBe(false);
    expect(matchesFilters(alice, f({ archived: "main" }))).toBe(true);
    expect(matchesFilters(archived, f({ unreadOnly: true }))).toBe(true);
    expect(isFiltered(f({ archived: "main" }))).toBe(true);
  });

  it("keeps only the chosen session", () => {
    expect(matchesFilters(alice, f({ sessionId: "7" }))).toBe(true);
    expect(matchesFilters(team, f({ sessionId: "7" }))).toBe(false);
    expect(matchesFilters(team, f({ sessionId: "8" }))).toBe(true);
  });

  it("keeps only the chosen type", () => {
    expect(matchesFilters(alice, f({ type: ChatType.PRIVATE }))).toBe(true);
    expect(matchesFilters(team, f({ type: ChatType.PRIVATE }))).toBe(false);
    expect(matchesFilters(team, f({ type: ChatType.GROUP }))).toBe(true);
    expect(matchesFilters(alice, f({ type: ChatType.GROUP }))).toBe(false);
  });

  it("keeps only unread chats when asked", () => {
    expect(matchesFilters(alice, f({ unreadOnly: true }))).toBe(true);
    expect(matchesFilters(team, f({ unreadOnly: true }))).toBe(false);
  });

  it("combines all filters", () => {
    const all = f({ sessionId: "7", type: ChatType.PRIVATE, unreadOnly: true, query: "alice" });
    expect(isFiltered(all)).toBe(true);
    expect(matchesFilters(alice, all)).toBe(true);
    expect(matchesFilters({ ...alice, sessionId: "8" }, all)).toBe(false);
    expect(matchesFilters({ ...alice, unreadCount: 0 }, all)).toBe(false);
    expect(matchesFilters({ ...alice, name: "Bob" , contactName: "" }, all)).toBe(false);
  });
});

describe("matchesQuery", () => {
  const alice = chat("1", { name: "Alice Smith", contactName: "Ali G", phone: "+15551234567" });
  it("matches name, contact name and phone case-insensitively", () => {
    expect(matchesQuery(alice, "SMITH")).toBe(true);
    expect(matchesQuery(alice, "ali g")).toBe(true);
    expect(matchesQuery(alice, "+1555123")).toBe(true);
    expect(matchesQuery(alice, "bob")).toBe(false);
  });
  it("matches phone-like queries on digits", () => {
    expect(matchesQuery(alice, "555 123-45")).toBe(true);
    expect(matchesQuery(alice, "(555) 999")).toBe(false);
  });
  it("ignores surrounding whitespace and treats blank as match-all", () => {
    expect(matchesQuery(alice, "  alice  ")).toBe(true);
    expect(matchesQuery(alice, "   ")).toBe(true);
  });
});

describe("toListChatsRequest", () => {
  it("maps the filters and passes the page token through unchanged", () => {
    const token = "  eyJ0IjoxNzAwMDAwMDAwLCJpZCI6IjQyIn0=/+_-  ";
    const req = toListChatsRequest(f({ sessionId: "42", type: ChatType.GROUP, query: "  team ", unreadOnly: true }), token, 25);
    expect(req.sessionIds).toEqual(["42"]);
    expect(req.type).toBe(ChatType.GROUP);
    expect(req.query).toBe("team");
    expect(req.unreadOnly).toBe(true);
    expect(req.pageSize).toBe(25);
    expect(req.pageToken).toBe(token);
  });
  it("sends no session IDs for all sessions", () => {
    expect(toListChatsRequest(defaultFilters(), "", 50).sessionIds).toEqual([]);
  });
  it("sends the archived filter only when one is chosen", () => {
    expect(toListChatsRequest(defaultFilters(), "", 50).archived).toBeUndefined();
    expect(toListChatsRequest(f({ archived: "archived" }), "", 50).archived).toBe(true);
    expect(toListChatsRequest(f({ archived: "main" }), "", 50).archived).toBe(false);
  });
});
