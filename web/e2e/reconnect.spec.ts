import { expect, test, type Request } from "@playwright/test";
import { BatchKind, chatNames, createSidecarSession, mobileNumber, privateChat, push, uniq } from "./support/api";
import { chatRow, signIn, waitLive } from "./support/app";

const streamPath = "/chatsync.v1.ChatService/StreamChatUpdates";
const listPath = "/chatsync.v1.ChatService/ListChats";

// The resume_token of a StreamChatUpdates request: connect-web sends one
// enveloped JSON message (1 flag byte, 4 length bytes, the message).
function resumeToken(req: Request): string {
  const body = req.postDataBuffer();
  if (!body || body.length < 5) return "";
  const msg = JSON.parse(body.subarray(5, 5 + body.readUInt32BE(1)).toString("utf8")) as { resumeToken?: string };
  return msg.resumeToken ?? "";
}

test("a network drop and reconnect loses no update: the stream resumes with its token", async ({ page, context }) => {
  const id = uniq();
  const s = await createSidecarSession(`Drop ${id}`);
  const oldNumber = mobileNumber();
  await push(s, [privateChat(`Old ${id}`, { jidNumber: oldNumber, at: Date.now() - 60_000, text: "before the drop" })], BatchKind.HISTORY);

  await signIn(page);
  await waitLive(page);
  await page.getByLabel("Session", { exact: true }).selectOption({ label: `Drop ${id}` });
  await expect(chatRow(page, `Old ${id}`)).toBeVisible();
  // A live event before the drop gives the client an event ID to resume from.
  await push(s, [privateChat(`Live ${id}`)]);
  await expect(chatRow(page, `Live ${id}`)).toBeVisible();

  const streams: Request[] = [];
  const lists: Request[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (path === streamPath) streams.push(r);
    if (path === listPath) lists.push(r);
  });

  // The drop: the browser goes offline and no stream request gets through.
  await page.route(`**${streamPath}`, (route) => route.abort("internetdisconnected"));
  await context.setOffline(true);
  await expect(page.getByText("Reconnecting…")).toBeVisible();

  // What happens meanwhile: three new chats in three batches, and the old
  // chat gets a new message (an update, not a new row).
  const during = [1, 2, 3].map((i) => `During ${i} ${id}`);
  for (const name of during) await push(s, [privateChat(name, { text: `sent while offline: ${name}` })]);
  await push(s, [privateChat(`Old ${id}`, { jidNumber: oldNumber, text: "updated during the drop" })]);
  // All of it is stored before the network comes back.
  await expect.poll(() => chatNames({ sessionIds: [s.session.id] })).toEqual(expect.arrayContaining(during));
  await expect.poll(async () => (await chatNames({ sessionIds: [s.session.id] }))[0]).toBe(`Old ${id}`);
  for (const name of during) await expect(chatRow(page, name)).toHaveCount(0);
  await expect(page.getByText("Reconnecting…")).toBeVisible();

  const listsBefore = lists.length;
  await page.unroute(`**${streamPath}`);
  await context.setOffline(false);
  await waitLive(page);

  // Every update made during the drop arrives, each exactly once.
  for (const name of during) {
    await expect(chatRow(page, name)).toHaveCount(1);
    await expect(chatRow(page, name)).toContainText(`sent while offline: ${name}`);
  }
  await expect(chatRow(page, `Old ${id}`)).toHaveCount(1);
  await expect(chatRow(page, `Old ${id}`)).toContainText("updated during the drop");
  await expect(page.getByTestId("chat-row")).toHaveCount(2 + during.length);
  // The updated chat moved to the top; the badge counts the four new chats.
  await expect(page.getByTestId("chat-row").first()).toHaveAttribute("aria-label", `Old ${id}`);
  await expect(page.getByTestId("new-chats-badge")).toHaveText(`${1 + during.length} new chats`);

  // It resumed: the stream reopened with the last event ID as resume token,
  // and the list was not reloaded from ListChats to catch up.
  const reopened = streams.filter((r) => !r.failure());
  expect(reopened.length, "a stream request after the network came back").toBeGreaterThan(0);
  expect(resumeToken(reopened[reopened.length - 1])).not.toBe("");
  expect(lists.length - listsBefore, "ListChats calls after reconnecting").toBe(0);
});
