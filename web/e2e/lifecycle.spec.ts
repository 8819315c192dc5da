import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { expect, test } from "@playwright/test";
import { SyncChatSchema } from "../src/gen/chatsync/v1/sync_pb";
import { createSidecarSession, privateChat, push, uniq } from "./support/api";
import { chatRow, shot, signIn, waitLive } from "./support/app";

// An open chat page follows a message's edit and revoke as a sidecar
// reports them (the original id with a new text and edit_time, then with
// revoked), without a reload.
test("an edit and a revoke show on the open chat page", async ({ page }) => {
  const sidecar = await createSidecarSession(`Lifecycle ${uniq()}`);
  const name = `Edited chat ${uniq()}`;
  const sent = Date.now() - 60_000;
  const chat = privateChat(name, { at: sent, text: "see you at 3" });
  await push(sidecar, [chat]);

  await signIn(page);
  await waitLive(page);
  await chatRow(page, name).click();
  const message = page.getByTestId("message").first();
  await expect(message).toContainText("see you at 3");
  await expect(message.getByTestId("edited")).toHaveCount(0);

  const original = chat.messages[0];
  const change = (m: object) => create(SyncChatSchema, { jid: chat.jid, type: chat.type, messages: [{ id: original.id, timestamp: original.timestamp, ...m }] });
  await push(sidecar, [change({ text: "see you at 4", editTime: timestampFromMs(Date.now()) })]);
  await expect(message).toContainText("see you at 4");
  await expect(message.getByTestId("edited")).toHaveText("edited");
  await shot(page, "message-edited");

  await push(sidecar, [change({ revoked: true })]);
  await expect(message.getByTestId("revoked")).toHaveText("This message was deleted");
  await expect(message).not.toContainText("see you at");
  await expect(page.getByTestId("message")).toHaveCount(1);
  await shot(page, "message-revoked");

  // The chat list's preview follows the revoke of its last message.
  await page.getByRole("link", { name: "← All chats" }).click();
  await expect(chatRow(page, name)).toContainText("This message was deleted");
});
