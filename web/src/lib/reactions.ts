import type { Reaction } from "../gen/chatsync/v1/chat_pb";

export interface ReactionGroup {
  emoji: string;
  count: number;
  // Who reacted with it ("You" for the session's own account), for a title.
  senders: string[];
}

// groupReactions counts a message's reactions per emoji, in the order each
// emoji was first used; name turns a sender JID into a display name.
export function groupReactions(reactions: readonly Reaction[], name: (jid: string) => string): ReactionGroup[] {
  const groups = new Map<string, ReactionGroup>();
  for (const r of reactions) {
    if (!r.emoji) continue;
    let g = groups.get(r.emoji);
    if (!g) {
      g = { emoji: r.emoji, count: 0, senders: [] };
      groups.set(r.emoji, g);
    }
    g.count++;
    g.senders.push(r.senderJid ? name(r.senderJid) : "You");
  }
  return [...groups.values()];
}
