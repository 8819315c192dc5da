import { ChatType, type Chat } from "../gen/chatsync/v1/chat_pb";
import { providerClass, providerLabel } from "./labels";

// What a chat row shows besides its name. Pure, so the rules (phone for
// private chats only, participant count for groups only) are unit-tested.
export interface ChatBadges {
  isGroup: boolean;
  // Two letters for the avatar of a private chat; "" for groups (icon).
  initials: string;
  // E.164 phone, private chats only.
  phone?: string;
  // "5 participants", groups only.
  participants?: string;
  provider: string;
  providerClass: string;
  // Unread count as text, only when there is something unread.
  unread?: string;
  unreadLabel?: string;
  // Marked as unread on the phone with no count: the dot alone.
  unreadDot?: boolean;
  // Muted: until when, as a label ("Muted", "Muted until …").
  muted?: string;
}

export function initials(name: string, fallback = ""): string {
  const words = name
    .replace(/[^\p{L}\p{N}\s]/gu, " ")
    .split(/\s+/)
    .filter(Boolean);
  if (words.length === 0) {
    const digits = fallback.replace(/\D/g, "");
    return digits ? digits.slice(-2) : "?";
  }
  const first = Array.from(words[0])[0] ?? "";
  const second = words.length > 1 ? (Array.from(words[words.length - 1])[0] ?? "") : (Array.from(words[0])[1] ?? "");
  return (first + second).toUpperCase();
}

export function participantsText(n: number): string {
  return n === 1 ? "1 participant" : `${n} participants`;
}

// chatsync's "muted forever": 9999-12-31T23:59:59Z.
const MUTED_FOREVER_MS = 253402300799000;

export function chatBadges(chat: Chat): ChatBadges {
  const isGroup = chat.type === ChatType.GROUP;
  const b: ChatBadges = {
    isGroup,
    initials: isGroup ? "" : initials(chat.name || chat.contactName, chat.phone || chat.jid),
    provider: providerLabel(chat.provider),
    providerClass: providerClass(chat.provider),
  };
  if (isGroup) {
    b.participants = participantsText(chat.participantCount);
  } else if (chat.phone) {
    b.phone = chat.phone;
  }
  if (chat.unreadCount > 0) {
    b.unread = chat.unreadCount > 99 ? "99+" : String(chat.unreadCount);
    b.unreadLabel = chat.unreadCount === 1 ? "1 unread message" : `${chat.unreadCount} unread messages`;
  } else if (chat.markedUnread) {
    b.unreadDot = true;
    b.unreadLabel = "Marked as unread";
  }
  if (chat.mutedUntil) {
    const until = Number(chat.mutedUntil.seconds) * 1000;
    b.muted = until >= MUTED_FOREVER_MS ? "Muted" : `Muted until ${new Date(until).toLocaleString()}`;
  }
  return b;
}

// The name to show: the chat name, else the contact's, else the phone or JID.
export function displayName(chat: Chat): string {
  return chat.name || chat.contactName || chat.phone || chat.jid.split("@")[0] || "Unnamed chat";
}
