import type { Chat } from "../gen/chatsync/v1/chat_pb";
import { matchesFilters, type ChatFilters } from "./filters";
import { tsMs } from "./time";

// Compares decimal ID strings numerically without losing precision.
function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

// The server's order: newest activity first, then higher ID first. Negative
// when a comes before b.
export function compareChats(a: Chat, b: Chat): number {
  const ta = tsMs(a.lastActivityTime) ?? 0;
  const tb = tsMs(b.lastActivityTime) ?? 0;
  if (ta !== tb) return tb - ta;
  return compareIds(b.id, a.id);
}

// mergeById appends the items of a new page that are not already in the
// list (a live update may have brought one in first; that copy is newer).
export function mergeById<T extends { id: string }>(list: readonly T[], page: readonly T[]): T[] {
  const seen = new Set(list.map((x) => x.id));
  const out = list.slice();
  for (const item of page) {
    if (seen.has(item.id)) continue;
    seen.add(item.id);
    out.push(item);
  }
  return out;
}

// prependById puts item first unless an item with its ID is already there.
export function prependById<T extends { id: string }>(list: readonly T[], item: T): T[] {
  if (list.some((x) => x.id === item.id)) return list.slice();
  return [item, ...list];
}

export type UpsertChange =
  | "inserted" // new to the list
  | "moved" // was in the list, newer activity: now at its new (top) place
  | "updated" // was in the list, same place, fields changed
  | "removed" // no longer matches the filters
  | "ignored"; // does not match, or belongs to a page not loaded yet

export interface UpsertResult {
  list: Chat[];
  change: UpsertChange;
}

// applyChatUpsert folds a live chat_upserted into the loaded list:
// - a chat that does not match the filters is dropped (or ignored);
// - a chat with newer activity moves to its place by activity, which for new
//   activity is the top; new chats are inserted there too;
// - a change without newer activity (read on the phone, renamed, members
//   changed) updates the row in place;
// - a chat older than everything loaded while more pages exist is left for
//   pagination to bring in, so the list never gets out of order.
export function applyChatUpsert(list: readonly Chat[], chat: Chat, f: ChatFilters, opts: { hasMore: boolean }): UpsertResult {
  const idx = list.findIndex((c) => c.id === chat.id);
  if (!matchesFilters(chat, f)) {
    if (idx < 0) return { list: list.slice(), change: "ignored" };
    const out = list.slice();
    out.splice(idx, 1);
    return { list: out, change: "removed" };
  }
  if (idx >= 0) {
    const old = list[idx];
    const newer = (tsMs(chat.lastActivityTime) ?? 0) > (tsMs(old.lastActivityTime) ?? 0);
    const out = list.slice();
    if (!newer) {
      out[idx] = chat;
      return { list: out, change: "updated" };
    }
    out.splice(idx, 1);
    out.splice(insertionIndex(out, chat), 0, chat);
    return { list: out, change: "moved" };
  }
  const at = insertionIndex(list, chat);
  if (at === list.length && opts.hasMore) return { list: list.slice(), change: "ignored" };
  const out = list.slice();
  out.splice(at, 0, chat);
  return { list: out, change: "inserted" };
}

function insertionIndex(list: readonly Chat[], chat: Chat): number {
  const i = list.findIndex((c) => compareChats(chat, c) < 0);
  return i < 0 ? list.length : i;
}

// replaceById puts item in the place of the item with its ID (an edited,
// revoked or reacted-to message); a list without it is returned as is.
export function replaceById<T extends { id: string }>(list: readonly T[], item: T): T[] {
  const i = list.findIndex((x) => x.id === item.id);
  if (i < 0) return list.slice();
  const out = list.slice();
  out[i] = item;
  return out;
}
