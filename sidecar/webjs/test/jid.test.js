import { test } from "node:test";
import assert from "node:assert/strict";
import { phoneOf, toJid, toWwebjsId } from "../src/jid.js";

test("toJid maps whatsapp-web.js ids to chatsync JIDs", () => {
  const cases = [
    ["15551234567@c.us", "15551234567@s.whatsapp.net"],
    [{ _serialized: "15551234567@c.us", user: "15551234567", server: "c.us" }, "15551234567@s.whatsapp.net"],
    [{ user: "15551234567", server: "c.us" }, "15551234567@s.whatsapp.net"],
    ["15551234567:12@c.us", "15551234567@s.whatsapp.net"],
    ["15551234567@s.whatsapp.net", "15551234567@s.whatsapp.net"],
    ["120363041234567890@g.us", "120363041234567890@g.us"],
    ["15551234567-1600000000@g.us", "15551234567-1600000000@g.us"],
    ["123456789012345@lid", "123456789012345@lid"],
    ["123456789012345:3@lid", "123456789012345@lid"],
    ["status@broadcast", ""],
    ["120363000000000000@newsletter", ""],
    ["abc@c.us", ""],
    ["@c.us", ""],
    ["nonsense", ""],
    ["", ""],
    [null, ""],
    [undefined, ""],
    [{}, ""],
  ];
  for (const [input, want] of cases) {
    assert.equal(toJid(input), want, JSON.stringify(input));
  }
});

test("toWwebjsId maps back, and round-trips with toJid", () => {
  for (const [jid, want] of [
    ["15551234567@s.whatsapp.net", "15551234567@c.us"],
    ["120363041234567890@g.us", "120363041234567890@g.us"],
    ["123456789012345@lid", "123456789012345@lid"],
  ]) {
    assert.equal(toWwebjsId(jid), want);
    assert.equal(toJid(toWwebjsId(jid)), jid);
  }
});

test("phoneOf gives E.164-style numbers for phone JIDs only", () => {
  assert.equal(phoneOf("15551234567@s.whatsapp.net"), "+15551234567");
  assert.equal(phoneOf("123456789012345@lid"), "");
  assert.equal(phoneOf("120363041234567890@g.us"), "");
});
