// whatsapp-web.js addresses people as "<number>@c.us"; chatsync (like
// WhatsApp's protocol and whatsmeow) uses "<number>@s.whatsapp.net". Groups
// ("@g.us") and hidden identities ("@lid") are the same on both sides.

/**
 * Converts a whatsapp-web.js id (a string like "15551234567@c.us", or an
 * object with _serialized, or {user, server}) to a chatsync JID. Device
 * suffixes ("15551234567:12@c.us") are dropped. Returns "" for ids chatsync
 * does not store: status broadcasts, newsletters, anything unknown.
 * @param {string | {_serialized?: string, user?: string, server?: string} | null | undefined} id
 * @returns {string}
 */
export function toJid(id) {
  const s = serialized(id);
  const at = s.lastIndexOf("@");
  if (at <= 0) return "";
  let user = s.slice(0, at);
  const server = s.slice(at + 1);
  switch (server) {
    case "c.us":
    case "s.whatsapp.net":
    case "lid":
      user = user.split(":")[0];
      if (!/^[0-9]{1,20}$/.test(user)) return "";
      return `${user}@${server === "lid" ? "lid" : "s.whatsapp.net"}`;
    case "g.us":
      if (!/^[0-9]+(-[0-9]+)?$/.test(user)) return "";
      return `${user}@g.us`;
    default:
      return "";
  }
}

/**
 * Converts a chatsync JID back to the id whatsapp-web.js expects
 * ("15551234567@s.whatsapp.net" → "15551234567@c.us").
 * @param {string} jid
 * @returns {string}
 */
export function toWwebjsId(jid) {
  return jid.endsWith("@s.whatsapp.net") ? `${jid.slice(0, -"@s.whatsapp.net".length)}@c.us` : jid;
}

/**
 * The phone number of a phone JID as "+<digits>", or "" for LIDs and groups.
 * @param {string} jid a chatsync JID
 */
export function phoneOf(jid) {
  return jid.endsWith("@s.whatsapp.net") ? `+${jid.slice(0, jid.indexOf("@"))}` : "";
}

function serialized(id) {
  if (!id) return "";
  if (typeof id === "string") return id;
  if (typeof id._serialized === "string") return id._serialized;
  if (id.user && id.server) return `${id.user}@${id.server}`;
  return "";
}
