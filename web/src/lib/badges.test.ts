import { describe, expect, it } from "vitest";
import { Provider } from "../gen/chatsync/v1/session_pb";
import { chat, group } from "../test/fixtures";
import { chatBadges, displayName, initials, participantsText } from "./badges";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { providerLabel } from "./labels";

describe("providerLabel", () => {
  it("uses the issue's badge texts", () => {
    expect(providerLabel(Provider.META_CLOUD)).toBe("Meta API");
    expect(providerLabel(Provider.WEBJS)).toBe("Web.js");
    expect(providerLabel(Provider.WHATSMEOW)).toBe("whatsmeow");
    expect(providerLabel(Provider.UNSPECIFIED)).toBe("Unknown provider");
  });
});

describe("chatBadges", () => {
  it("shows the phone and initials for private chats, no participant count", () => {
    const b = chatBadges(chat("1", { name: "Alice Smith", phone: "+15551234567", provider: Provider.WEBJS }));
    expect(b.isGroup).toBe(false);
    expect(b.initials).toBe("AS");
    expect(b.phone).toBe("+15551234567");
    expect(b.participants).toBeUndefined();
    expect(b.provider).toBe("Web.js");
  });

  it("shows the participant count for groups, no phone", () => {
    const b = chatBadges(group("2", 5, { phone: "+15550000000", provider: Provider.META_CLOUD }));
    expect(b.isGroup).toBe(true);
    expect(b.initials).toBe("");
    expect(b.participants).toBe("5 participants");
    expect(b.phone).toBeUndefined();
    expect(b.provider).toBe("Meta API");
  });

  it("says 1 participant in the singular", () => {
    expect(participantsText(1)).toBe("1 participant");
    expect(chatBadges(group("3", 0)).participants).toBe("0 participants");
  });

  it("shows a dot for a chat marked unread without a count, and a muted chat", () => {
    const marked = chatBadges(chat("1", { unreadCount: 0, markedUnread: true }));
    expect(marked.unread).toBeUndefined();
    expect(marked.unreadDot).toBe(true);
    expect(marked.unreadLabel).toBe("Marked as unread");
    expect(chatBadges(chat("1", { unreadCount: 2, markedUnread: true })).unreadDot).toBeUndefined();
    expect(chatBadges(chat("1", {})).muted).toBeUndefined();
    expect(chatBadges(chat("1", { mutedUntil: timestampFromMs(253402300799000) })).muted).toBe("Muted");
    expect(chatBadges(chat("1", { mutedUntil: timestampFromMs(Date.UTC(2030, 0, 1)) })).muted).toMatch(/^Muted until /);
  });

  it("shows unread counts only when there are unread messages, capped at 99+", () => {
    expect(chatBadges(chat("1", { unreadCount: 0 })).unread).toBeUndefined();
    const one = chatBadges(chat("1", { unreadCount: 1 }));
    expect(one.unread).toBe("1");
    expect(one.unreadLabel).toBe("1 unread message");
    expect(chatBadges(chat("1", { unreadCount: 250 })).unread).toBe("99+");
  });
});

describe("initials and displayName", () => {
  it("takes the first letters of the first and last word", () => {
    expect(initials("maria de la cruz")).toBe("MC");
    expect(initials("Zoë")).toBe("ZO");
    expect(initials("  😀 ")).toBe("?");
    expect(initials("", "+15551234567")).toBe("67");
  });
  it("falls back from name to contact name to phone to JID user", () => {
    expect(displayName(chat("1", { name: "", contactName: "Ali" }))).toBe("Ali");
    expect(displayName(chat("1", { name: "", contactName: "", phone: "+1555" }))).toBe("+1555");
    expect(displayName(chat("1", { name: "", contactName: "", phone: "", jid: "999@lid" }))).toBe("999");
  });
});
