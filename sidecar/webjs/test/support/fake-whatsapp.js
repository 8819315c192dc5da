// A fake of whatsapp-web.js's Client: an EventEmitter with getChats,
// getChatById and sendMessage, holding plain objects shaped like
// whatsapp-web.js's Chat, GroupChat and Message (the fields the sidecar
// reads). WhatsApp itself is unreachable from tests.
import { EventEmitter } from "node:events";

/** A whatsapp-web.js-style id: {server, user, _serialized}. */
export function wid(user, server) {
  return { server, user, _serialized: `${user}@${server}` };
}

/**
 * A fake Message.
 * @param {object} p
 */
export function fakeMessage({ chatId, n, timestamp, fromMe = false, author, body = "hello", type = "chat", hasMedia = false }) {
  const serialized = `${fromMe}_${chatId._serialized}_3EB0${String(n).padStart(16, "0")}`;
  return {
    id: { fromMe, remote: chatId._serialized, id: `3EB0${String(n).padStart(16, "0")}`, _serialized: serialized },
    fromMe,
    from: fromMe ? "15550000000@c.us" : author ?? chatId._serialized,
    to: fromMe ? chatId._serialized : "15550000000@c.us",
    author: chatId.server === "g.us" && !fromMe ? author : undefined,
    timestamp,
    body,
    type,
    hasMedia,
  };
}

/**
 * Generates n chats: every groupEvery-th a group with `participants`
 * members (first superadmin, second admin), each chat with `messages`
 * messages. Chat i was active at baseTs - i*60 s (chat 0 newest).
 */
export function makeChats(n, { groupEvery = 5, participants = 5, messages = 2, baseTs = 1_750_000_000, bodyBytes = 5 } = {}) {
  const chats = [];
  for (let i = 0; i < n; i++) {
    const isGroup = groupEvery > 0 && i % groupEvery === groupEvery - 1;
    const id = isGroup ? wid(`120363${String(i).padStart(12, "0")}`, "g.us") : wid(`1555${String(i).padStart(7, "0")}`, "c.us");
    const timestamp = baseTs - i * 60;
    const members = [];
    if (isGroup) {
      for (let k = 0; k < participants; k++) {
        members.push({ id: wid(`1666${String((i * 31 + k) % 10_000_000).padStart(7, "0")}`, "c.us"), isAdmin: k <= 1, isSuperAdmin: k === 0 });
      }
    }
    const body = "x".repeat(bodyBytes);
    const msgs = [];
    for (let j = 0; j < messages; j++) {
      msgs.push(fakeMessage({
        chatId: id, n: i * 1000 + j, timestamp: timestamp - j, fromMe: j % 3 === 2,
        author: isGroup ? members[j % members.length].id._serialized : undefined, body,
        type: j % 4 === 3 ? "image" : "chat", hasMedia: j % 4 === 3,
      }));
    }
    const chat = {
      id,
      name: isGroup ? `Group ${i}` : `Person ${i}`,
      isGroup,
      timestamp,
      unreadCount: i % 3,
      archived: i % 17 === 0,
      pinned: i < 2,
      async fetchMessages({ limit }) {
        return msgs.slice(0, limit);
      },
    };
    if (isGroup) {
      chat.groupMetadata = { subject: chat.name, desc: `about group ${i}`, owner: members[0].id, participants: members };
      chat.participants = members;
      chat.owner = members[0].id;
      chat.description = chat.groupMetadata.desc;
    }
    chats.push(chat);
  }
  return chats;
}

/** The fake Client. */
export class FakeWhatsAppClient extends EventEmitter {
  /** @param {any[]} chats */
  constructor(chats = []) {
    super();
    this.chats = chats;
    this.sent = [];
    this.getChatsCalls = 0;
  }

  async getChats() {
    this.getChatsCalls++;
    return [...this.chats];
  }

  async getChatById(id) {
    return this.chats.find((c) => c.id._serialized === id);
  }

  async sendMessage(chatId, text) {
    if (!this.chats.some((c) => c.id._serialized === chatId)) throw new Error(`no chat ${chatId}`);
    const n = this.sent.length;
    this.sent.push({ chatId, text });
    return { id: { id: `3EB0SENT${n}`, _serialized: `true_${chatId}_3EB0SENT${n}` } };
  }

  /** Emits a message as whatsapp-web.js does, with getChat() attached. */
  emitMessage(event, msg) {
    const chat = this.chats.find((c) => c.id._serialized === msg.id.remote);
    this.emit(event, { ...msg, getChat: async () => chat });
  }
}
