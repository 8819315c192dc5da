import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bodyBytes, createSigningFetch, sign } from "../src/signing.js";
import { verifySignature } from "./support/fake-server.js";

// The vectors the Go signing package generated and checks; the Node side
// must produce the same bytes.
const vectorsPath = fileURLToPath(new URL("../../../testdata/signing/vectors.json", import.meta.url));
const vectors = JSON.parse(readFileSync(vectorsPath, "utf8"));

test("the shared vectors include proto, JSON and empty bodies", () => {
  assert.ok(vectors.length >= 6);
  const names = vectors.map((v) => v.name).join(" ");
  for (const kind of ["proto", "json", "empty"]) assert.match(names, new RegExp(kind));
});

for (const v of vectors) {
  test(`vector ${v.name}: sign matches Go`, () => {
    const body = Buffer.from(v.body_base64, "base64");
    assert.equal(sign(v.secret, v.timestamp, body), v.signature);
    assert.equal(verifySignature(v.secret, String(v.timestamp), v.signature, body, v.timestamp * 1000), null);
  });

  test(`vector ${v.name}: the signing fetch sends the vector's headers`, async () => {
    const body = new Uint8Array(Buffer.from(v.body_base64, "base64"));
    let seen;
    const signed = createSigningFetch({
      sessionId: v.session_id,
      secret: v.secret,
      now: () => v.timestamp * 1000 + 999, // sub-second part is dropped
      fetch: async (url, init) => {
        seen = init;
        return new Response(null, { status: 204 });
      },
    });
    await signed("http://chatsync.test/chatsync.v1.SyncService/SyncBatch", { method: "POST", headers: { "content-type": "application/proto" }, body });
    const h = new Headers(seen.headers);
    assert.equal(h.get("x-chatsync-session"), v.session_id);
    assert.equal(h.get("x-chatsync-timestamp"), String(v.timestamp));
    assert.equal(h.get("x-chatsync-signature"), v.signature);
    assert.equal(h.get("content-type"), "application/proto");
    assert.deepEqual(Buffer.from(bodyBytes(seen.body)), Buffer.from(body));
  });
}

test("bodyBytes reads every buffered body form", () => {
  const cases = [
    [undefined, ""],
    [null, ""],
    ["héllo", "héllo"],
    [new TextEncoder().encode("abc"), "abc"],
    [new TextEncoder().encode("abc").buffer, "abc"],
    [new DataView(new TextEncoder().encode("xabcx").buffer, 1, 3), "abc"],
  ];
  for (const [input, want] of cases) {
    assert.equal(Buffer.from(bodyBytes(input)).toString("utf8"), want);
  }
  assert.throws(() => bodyBytes(new ReadableStream()), /cannot sign/);
});

test("createSigningFetch refuses what it cannot sign", async () => {
  assert.throws(() => createSigningFetch({ sessionId: "", secret: "s" }), /required/);
  const signed = createSigningFetch({ sessionId: "1", secret: "s", fetch: async () => new Response(null) });
  await assert.rejects(signed(new Request("http://x.test/", { method: "POST", body: "a" })), /not a Request/);
});

test("verifySignature refuses what the Go server refuses", () => {
  const v = vectors[0];
  const body = Buffer.from(v.body_base64, "base64");
  const ts = String(v.timestamp);
  const at = v.timestamp * 1000;
  const cases = [
    ["missing", "", v.signature, at],
    ["timestamp", `0${ts}`, v.signature, at],
    ["timestamp", `+${ts}`, v.signature, at],
    ["skew", ts, v.signature, at + 301_000],
    ["skew", ts, v.signature, at - 301_000],
    ["malformed", ts, v.signature.toUpperCase().replace("V1=", "v1="), at],
    ["mismatch", ts, sign("other", v.timestamp, body), at],
  ];
  for (const [want, tsHeader, sig, now] of cases) {
    assert.equal(verifySignature(v.secret, tsHeader, sig, body, now), want, `${want}: ${tsHeader}`);
  }
});
