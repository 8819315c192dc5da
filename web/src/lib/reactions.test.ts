import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { ReactionSchema } from "../gen/chatsync/v1/chat_pb";
import { replaceById } from "./chatList";
import { groupReactions } from "./reactions";

describe("groupReactions", () => {
  it("counts per emoji in first-use order, names senders, skips removals", () => {
    const rs = [
      create(ReactionSchema, { senderJid: "1@s.whatsapp.net", emoji: "👍" }),
      create(ReactionSchema, { senderJid: "2@s.whatsapp.net", emoji: "❤️" }),
      create(ReactionSchema, { senderJid: "", emoji: "👍" }),
      create(ReactionSchema, { senderJid: "3@s.whatsapp.net", emoji: "" }),
    ];
    expect(groupReactions(rs, (j) => `P${j.split("@")[0]}`)).toEqual([
      { emoji: "👍", count: 2, senders: ["P1", "You"] },
      { emoji: "❤️", count: 1, senders: ["P2"] },
    ]);
    expect(groupReactions([], String)).toEqual([]);
  });
});

describe("replaceById", () => {
  it("replaces in place, and leaves a list without the item as it is", () => {
    const list = [{ id: "a", v: 1 }, { id: "b", v: 1 }];
    expect(replaceById(list, { id: "b", v: 2 })).toEqual([{ id: "a", v: 1 }, { id: "b", v: 2 }]);
    expect(replaceById(list, { id: "c", v: 2 })).toEqual(list);
    expect(list[1].v).toBe(1);
  });
});
