// Maps whatsapp-web.js objects (Chat, GroupChat, Message) to chatsync's
// SyncChat / SyncMessage. Only the fields documented by whatsapp-web.js are
// read, so a plain object with the same shape (the tests' fakes) maps alike.
import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { ChatType, MediaType, MessageStatus, ParticipantRole } from "./gen/chatsync/v1/chat_pb.js";
import { SyncChatSchema, SyncMessageSchema } from "./gen/chatsync/v1/sync_pb.js";
import { phoneOf, toJid } from "./jid.js";

const MAX_TEXT_BYTES = 65_536;
// chatsync refuses a chat report with more messages (chatsync.MaxChatMessages).
const MAX_CHAT_MESSAGES = 1000;

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

// Change reports (SyncMessage with edit_time, revoked or reactions): the
// original message's id and the change. chatsync keeps a change that
// arrives before its message and applies it when the message lands.

const MAX_EMOJI_BYTES = 64;

/** Seconds or milliseconds since the epoch → a Timestamp init, or null. */
function stamp(t) {
  const n = Number(t);
  if (!(n > 0)) return null;
  const ms = n > 1e12 ? n : n * 1000; // WhatsApp Web mixes both
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (Math.floor(ms) % 1000) * 1e6 };
}

/**
 * An edit ('message_edit'): the message under its original id with its new
 * text, as of latestEditSenderTimestampMs (or nowMs when WhatsApp Web does
 * not say). Null for a message without id or time.
 * @param {any} msg the edited Message
 * @param {string} newBody
 * @param {number} [nowMs]
 */
export function mapEdit(msg, newBody, nowMs = Date.now()) {
  const id = msg?.id?.id;
  const ts = stamp(msg?.timestamp);
  if (!id || !ts) return null;
  return create(SyncMessageSchema, {
    id: String(id).slice(0, 128),
    fromMe: Boolean(msg.fromMe ?? msg.id?.fromMe),
    timestamp: ts,
    text: truncateUtf8(typeof newBody === "string" ? newBody : String(msg.body ?? ""), MAX_TEXT_BYTES),
    editTime: stamp(msg.latestEditSenderTimestampMs) ?? stamp(nowMs),
  });
}

/**
 * A revoke ('message_revoke_everyone', or a revoked message in history):
 * the message's id with revoked set.
 * @param {any} msg the Message in its revoked state (type "revoked")
 */
export function mapRevoke(msg) {
  const id = msg?.id?.id;
  const ts = stamp(msg?.timestamp);
  if (!id || !ts) return null;
  return create(SyncMessageSchema, { id: String(id).slice(0, 128), fromMe: Boolean(msg.fromMe ?? msg.id?.fromMe), timestamp: ts, revoked: true });
}

/**
 * Reactions to one message: whatsapp-web.js Reaction objects ('message_reaction',
 * or a message's getReactions() senders), all of the message msgKey
 * names. An empty reaction text removes the sender's reaction; my own
 * reactions have an empty sender. Null when none maps.
 * @param {any} msgKey the reacted message's key (reaction.msgId)
 * @param {any[]} reactions
 * @param {number} [nowMs]
 */
export function mapReactions(msgKey, reactions, nowMs = Date.now()) {
  const id = msgKey?.id;
  if (!id) return null;
  const bySender = new Map();
  for (const r of reactions) {
    const mine = Boolean(r?.id?.fromMe);
    const senderJid = mine ? "" : toJid(r?.senderId);
    if (!mine && !senderJid) continue;
    const timestamp = stamp(r.timestamp) ?? stamp(nowMs);
    const have = bySender.get(senderJid);
    if (have && Number(have.timestamp.seconds) > Number(timestamp.seconds)) continue;
    bySender.set(senderJid, { senderJid, emoji: truncateUtf8(typeof r.reaction === "string" ? r.reaction : "", MAX_EMOJI_BYTES), timestamp });
  }
  if (bySender.size === 0) return null;
  const newest = [...bySender.values()].reduce((a, b) => (a.timestamp.seconds >= b.timestamp.seconds ? a : b));
  return create(SyncMessageSchema, {
    id: String(id).slice(0, 128), fromMe: Boolean(msgKey.fromMe), timestamp: newest.timestamp, reactions: [...bySender.values()],
  });
}

// "Muted forever" on the wire (chatsync.MutedForever).
const MUTED_FOREVER_SECONDS = 253402300799n; // 9999-12-31T23:59:59Z

/**
 * whatsapp-web.js's MessageAck (ACK_SERVER 1, ACK_DEVICE 2, ACK_READ 3,
 * ACK_PLAYED 4) as a MessageStatus; UNSPECIFIED for errors and pending.
 * @param {number} ack
 */
export function statusOfAck(ack) {
  switch (ack) {
    case 1: return MessageStatus.SENT;
    case 2: return MessageStatus.DELIVERED;
    case 3: return MessageStatus.READ;
    case 4: return MessageStatus.PLAYED;
    default: return MessageStatus.UNSPECIFIED;
  }
}

/**
 * A receipt ('message_ack') of a message from me: its id with only the
 * status. Null for messages of others and acks that are not a status.
 * @param {any} msg
 * @param {number} ack
 */
export function mapAck(msg, ack) {
  const id = msg?.id?.id;
  const ts = stamp(msg?.timestamp);
  const status = statusOfAck(ack);
  if (!id || !ts || !status || !(msg.fromMe ?? msg.id?.fromMe)) return null;
  return create(SyncMessageSchema, { id: String(id).slice(0, 128), fromMe: true, timestamp: ts, status });
}

/**
 * A chat's state as whatsapp-web.js shows it: archived, pinned, muted
 * until (muteExpiration in seconds, -1 for forever; not muted is the
 * epoch, which unmutes), and the unread count, where -1 means "marked as
 * unread": the dot without a count. A live report then keeps the stored
 * count; a history report (history = true) says 0, as the phone shows no
 * count (left unset, the report's messages would be counted as unread).
 * @param {any} chat
 * @param {boolean} [history]
 */
export function chatState(chat, history = false) {
  const st = { archived: Boolean(chat.archived), pinned: Boolean(chat.pinned) };
  const unread = Number(chat.unreadCount ?? 0) | 0;
  if (unread < 0) {
    st.markedUnread = true;
    if (history) st.unreadCount = 0;
  } else {
    st.unreadCount = unread;
    st.markedUnread = false;
  }
  const exp = Number(chat.muteExpiration ?? 0);
  let seconds = MUTED_FOREVER_SECONDS;
  if (!chat.isMuted) seconds = 0n;
  else if (exp > 0) seconds = BigInt(Math.min(Math.floor(exp > 1e12 ? exp / 1000 : exp), Number(MUTED_FOREVER_SECONDS)));
  st.mutedUntil = create(TimestampSchema, { seconds });
  return st;
}

/**
 * A history message as reports: the message itself, and what it carries
 * (a revoked message: an empty stub and its revoke; an edited one: its
 * current text and the edit time; reactions, when the message has them
 * and whatsapp-web.js can list them).
 * @param {any} msg
 * @param {boolean} isGroup
 */
export async function mapHistoryMessage(msg, isGroup) {
  if (msg?.type === "revoked") {
    const stub = mapMessage({ ...msg, type: "chat", body: "", hasMedia: false }, isGroup);
    const revoke = mapRevoke(msg);
    return stub && revoke ? [stub, revoke] : [];
  }
  const m = mapMessage(msg, isGroup);
  if (!m) return [];
  // My message carries how far it got (its ack).
  const status = m.fromMe ? statusOfAck(msg.ack) : MessageStatus.UNSPECIFIED;
  if (status) m.status = status;
  const out = [m];
  if (msg.latestEditSenderTimestampMs) {
    const edit = mapEdit(msg, msg.body);
    if (edit) out.push(edit);
  }
  if (msg.hasReaction && typeof msg.getReactions === "function") {
    try {
      const senders = (await msg.getReactions()).flatMap((l) => l.senders ?? []);
      const r = mapReactions(msg.id, senders);
      if (r) out.push(r);
    } catch {
      // Reactions are extra: a message whose reactions cannot be read is
      // still synced.
    }
  }
  return out;
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
 * chat's state as the phone shows it (chatState) and
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
  if (withState) Object.assign(init, chatState(chat, true));
  if (chat.timestamp > 0) init.lastActivityTime = { seconds: BigInt(Math.floor(chat.timestamp)) };
  if (isGroup) {
    init.group = mapGroup(chat);
  } else {
    init.contact = { jid, phone: phoneOf(jid) };
  }
  const limit = Math.min(config.messagesPerChat ?? 0, 1000);
  if (limit > 0 && typeof chat.fetchMessages === "function") {
    const cutoff = config.syncWindowDays > 0 ? Math.floor(nowMs / 1000) - config.syncWindowDays * 86_400 : 0;
    const changes = [];
    for (const msg of await chat.fetchMessages({ limit })) {
      if (msg.timestamp < cutoff) continue;
      const [m, ...rest] = await mapHistoryMessage(msg, isGroup);
      if (m) init.messages.push(m);
      changes.push(...rest);
    }
    // Changes after the messages (chatsync applies them after the messages
    // of the same report anyway; the order keeps reports readable).
    init.messages.push(...changes.slice(0, Math.max(0, MAX_CHAT_MESSAGES - init.messages.length)));
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
