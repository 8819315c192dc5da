import { create } from "@bufbuild/protobuf";
import { ChatType, type Chat } from "../gen/chatsync/v1/chat_pb";
import { ListChatsRequestSchema, type ListChatsRequest } from "../gen/chatsync/v1/chat_service_pb";

// The chat list's filters, as the Chats page edits them.
export interface ChatFilters {
  // One session's ID, or "" for all sessions.
  sessionId: string;
  // ChatType.UNSPECIFIED means any type.
  type: ChatType;
  // Free text; matched like the server does (name, contact name, phone).
  query: string;
  unreadOnly: boolean;
  // "all" chats, only the phone's "main" list (not archived), or only the
  // "archived" ones.
  archived: "all" | "main" | "archived";
}

export function defaultFilters(): ChatFilters {
  return { sessionId: "", type: ChatType.UNSPECIFIED, query: "", unreadOnly: false, archived: "all" };
}

export function isFiltered(f: ChatFilters): boolean {
  return f.sessionId !== "" || f.type !== ChatType.UNSPECIFIED || f.query.trim() !== "" || f.unreadOnly || f.archived !== "all";
}

// isUnread: unread messages, or marked as unread on the phone (the dot).
export function isUnread(chat: Chat): boolean {
  return chat.unreadCount > 0 || chat.markedUnread;
}

const phoneLike = /^[+\d\s().-]+$/;

// matchesQuery mirrors ListChats' search: case-insensitive substring over the
// chat name, contact name and phone; a phone-like query ("+1 555-12") also
// matches on digits only.
export function matchesQuery(chat: Chat, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (q === "") return true;
  if (chat.name.toLowerCase().includes(q)) return true;
  if (chat.contactName.toLowerCase().includes(q)) return true;
  if (chat.phone.toLowerCase().includes(q)) return true;
  if (phoneLike.test(q)) {
    const digits = q.replace(/\D/g, "");
    if (digits !== "" && chat.phone.replace(/\D/g, "").includes(digits)) return true;
  }
  return false;
}

// matchesFilters says whether a chat (e.g. one from a live chat_upserted
// event) belongs in the list the current filters show.
export function matchesFilters(chat: Chat, f: ChatFilters): boolean {
  if (f.sessionId !== "" && chat.sessionId !== f.sessionId) return false;
  if (f.type !== ChatType.UNSPECIFIED && chat.type !== f.type) return false;
  if (f.unreadOnly && !isUnread(chat)) return false;
  if (f.archived === "main" && chat.archived) return false;
  if (f.archived === "archived" && !chat.archived) return false;
  return matchesQuery(chat, f.query);
}

// The ListChats request for the filters; pageToken is passed back exactly as
// the previous response gave it.
export function toListChatsRequest(f: ChatFilters, pageToken: string, pageSize: number): ListChatsRequest {
  return create(ListChatsRequestSchema, {
    sessionIds: f.sessionId ? [f.sessionId] : [],
    type: f.type,
    query: f.query.trim(),
    unreadOnly: f.unreadOnly,
    archived: f.archived === "all" ? undefined : f.archived === "archived",
    pageSize,
    pageToken,
  });
}
