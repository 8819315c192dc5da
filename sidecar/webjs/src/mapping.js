// Maps whatsapp-web.js objects (Chat, GroupChat, Message) to chatsync's
// SyncChat / SyncMessage. Only the fields documented by whatsapp-web.js are
// read, so a plain object with the same shape (the tests' fakes) maps alike.
import { create } from "@bufbuild/protobuf";
import { ChatType, MediaType, ParticipantRole } from "./gen/chatsync/v1/chat_pb.js";
import { SyncChatSchema, SyncMessageSchema } from "./gen/chatsync/v1/sync_pb.js";
import { phoneOf, toJid } from "./jid.js";

const MAX_TEXT_BYTES = 65_536;

// Message types that are WhatsApp bookkeeping, not conversation.
const SYSTEM_TYPES = new Set([
  "e2e_notification", "gp2", "notification", "notification_template", "protocol",
  "call_log", "ciphertext", "debug", "broadcast_notification", "reaction", "revoked",
]);

/**
 * True for group chats. whatsapp-web.js sets chat.isGroup; the id's server
 * ("g.us") is the fallback for objects that lack it.
 * @param {{isGroup?: boolean, id?: any}} chat
 */
export function detectGroupChat(chat) {
  if (!chat) return false;
  if (typeof chat.isGroup === "boolean") return chat.isGroup;
  return toJid(chat.id).endsWith("@g.us");
}

/**
 * Applies the session's sync config: drops chats chatsync does not store,
 * keeps those active within syncWindowDays (0 = all), newest first, at most
 * maxChats (0 = all).
 * @template {{id?: any, timestamp?: number}} C
 * @param {C[]} chats
 * @param {{maxChats?: number, syncWindowDays?: number}} config
 * @param {number} [nowMs]
 * @returns {C[]}
 */
export function filterChatsByConfig(chats, config, nowMs = Date.now()) {
  let out = chats.filter((c) => toJid(c?.id) !== "");
  if (config.syncWindowDays > 0) {
    const cutoff = Math.floor(nowMs / 1000) - config.syncWindowDays * 86_400;
    out = out.filter((c) => (c.timestamp ?? 0) >= cutoff);
  }
  out.sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0));
  if (config.maxChats > 0 && out.length > config.maxChats) out.length = config.maxChats;
  return out;
}

/**
 * The chatsync media type of a whatsapp-web.js message type.
 * @param {string | undefined} type Message.type ("chat", "image", "ptt", ...)
 * @param {boolean} [hasMedia]
 */
export function mediaTypeOf(type, hasMedia = false) {
  switch (type) {
    case "chat":
    case undefined:
    case "":
      return hasMedia ? MediaType.OTHER : MediaType.UNSPECIFIED;
    case "image":
    case "album":
      return MediaType.IMAGE;
    case "video":
    case "gif":
      return MediaType.VIDEO;
    case "audio":
    case "ptt":
      return MediaType.AUDIO;
    case "document":
      return MediaType.DOCUMENT;
    case "sticker":
      return MediaType.STICKER;
    case "location":
      return MediaType.LOCATION;
    case "vcard":
    case "multi_vcard":
      return MediaType.CONTACT;
    default:
      return MediaType.OTHER;
  }
}

/**
 * Maps a whatsapp-web.js Message, or returns null for system messages and
 * messages without an id or time. With waiting, a message whatsapp-web.js
 * could not decrypt yet ('message_ciphertext', type "ciphertext") maps to a
 * placeholder without content; the 'message' event of the decrypted message
 * later replaces it under the same id.
 * @param {any} msg
 * @param {boolean} isGroup whether the message's chat is a group
 * @param {{waiting?: boolean}} [opts]
 */
export function mapMessage(msg, isGroup, opts = {}) {
  if (!msg || (SYSTEM_TYPES.has(msg.type) && !(opts.waiting && msg.type === "ciphertext"))) return null;
  const id = msg.id?.id;
  if (!id || !(msg.timestamp > 0)) return null;
  const fromMe = Boolean(msg.fromMe ?? msg.id?.fromMe);
  let senderJid = "";
  if (!fromMe) senderJid = toJid(isGroup ? msg.author : msg.from);
  if (opts.waiting) {
    return create(SyncMessageSchema, {
      id: String(id).slice(0, 128), senderJid, fromMe, timestamp: { seconds: BigInt(Math.floor(msg.timestamp)) }, waiting: true,
    });
  }
  return create(SyncMessageSchema, {
    id: String(id).slice(0, 128),
    senderJid,
    fromMe,
    timestamp: { seconds: BigInt(Math.floor(msg.timestamp)) },
    text: truncateUtf8(typeof msg.body === "string" ? msg.body : "", MAX_TEXT_BYTES),
    mediaType: mediaTypeOf(msg.type, msg.hasMedia),
  });
}

/**
 * Group metadata and members with roles, from a GroupChat (its
 * participants/owner/description getters read groupMetadata).
 * @param {any} chat
 */
export function mapGroup(chat) {
  const md = chat.groupMetadata ?? {};
  const members = chat.participants ?? md.participants ?? [];
  const participants = [];
  for (const p of members) {
    const jid = toJid(p.id);
    if (!jid) continue;
    const role = p.isSuperAdmin ? ParticipantRole.SUPERADMIN : p.isAdmin ? ParticipantRole.ADMIN : ParticipantRole.MEMBER;
    participants.push({ jid, phone: phoneOf(jid), role });
  }
  const description = chat.description ?? md.desc ?? "";
  return {
    subject: chat.name || md.subject || "",
    description: typeof description === "string" ? description : "",
    ownerJid: toJid(chat.owner ?? md.owner),
    participants,
  };
}

/**
 * Maps a whatsapp-web.js Chat to a SyncChat for a history report: the
 * chat's state as the phone shows it (unread count, archived, pinned) and
 * its newest config.messagesPerChat messages inside the sync window.
 * Returns null for chats chatsync does not store.
 * @param {any} chat
 * @param {{messagesPerChat?: number, syncWindowDays?: number}} config
 * @param {number} [nowMs]
 */
export async function mapChat(chat, config, nowMs = Date.now()) {
  return mapChatWith(chat, config, nowMs, true);
}

/**
 * Maps a whatsapp-web.js Chat for a live report: the chat's identity (JID,
 * type, name, contact or group) and none of its state. chatsync keeps the
 * state the last history report gave, and counts a new message not from me
 * as unread itself; a live report that carried unreadCount, archived and
 * pinned would overwrite that state with whatever WhatsApp Web had loaded.
 * Returns null for chats chatsync does not store.
 * @param {any} chat
 */
export async function mapLiveChat(chat) {
  return mapChatWith(chat, { messagesPerChat: 0 }, Date.now(), false);
}

async function mapChatWith(chat, config, nowMs, withState) {
  const jid = toJid(chat?.id);
  if (!jid) return null;
  const isGroup = detectGroupChat(chat);
  // Build the whole init and create() once: create converts nested plain
  // objects into messages only at init time. State fields left out of the
  // init stay unset on the wire (proto3 optional).
  const init = {
    jid,
    type: isGroup ? ChatType.GROUP : ChatType.PRIVATE,
    name: truncateUtf8(chat.name ?? "", 1024),
    messages: [],
  };
  if (withState) {
    init.unreadCount = Math.max(0, chat.unreadCount | 0);
    init.archived = Boolean(chat.archived);
    init.pinned = Boolean(chat.pinned);
  }
  if (chat.timestamp > 0) init.lastActivityTime = { seconds: BigInt(Math.floor(chat.timestamp)) };
  if (isGroup) {
    init.group = mapGroup(chat);
  } else {
    init.contact = { jid, phone: phoneOf(jid) };
  }
  const limit = Math.min(config.messagesPerChat ?? 0, 1000);
  if (limit > 0 && typeof chat.fetchMessages === "function") {
    const cutoff = config.syncWindowDays > 0 ? Math.floor(nowMs / 1000) - config.syncWindowDays * 86_400 : 0;
    for (const msg of await chat.fetchMessages({ limit })) {
      if (msg.timestamp < cutoff) continue;
      const m = mapMessage(msg, isGroup);
      if (m) init.messages.push(m);
    }
  }
  return create(SyncChatSchema, init);
}

/** Cuts s to at most max UTF-8 bytes without splitting a character. */
export function truncateUtf8(s, max) {
  if (s.length * 3 <= max) return s;
  const bytes = Buffer.from(s, "utf8");
  if (bytes.length <= max) return s;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}
