import { expect, test } from "@playwright/test";
import { BatchKind, createSidecarSession, privateChat, push, uniq, watchCommands } from "./support/api";
import { chatRow, signIn } from "./support/app";

test("the chat page sends through the session's sidecar, and says why when none is attached", async ({ page }) => {
  const id = uniq();
  const s = await createSidecarSession(`Send ${id}`);
  const name = `Send to ${id}`;
  const chat = privateChat(name, { text: "hi, are you there?" });
  await push(s, [chat], BatchKind.HISTORY);

  await signIn(page);
  await chatRow(page, name).getByRole("link").click();
  await expect(page.getByRole("heading", { name, level: 1 })).toBeVisible();
  const box = page.getByRole("textbox", { name: "Message" });
  const send = page.getByRole("button", { name: "Send", exact: true });

  // No sidecar watches the session's commands: a readable reason, the draft kept.
  await box.fill("first try");
  await send.click();
  await expect(page.getByRole("alert")).toContainText("The message was not sent: no provider could send the message");
  await expect(page.getByRole("alert")).toContainText("no sidecar is attached");
  await expect(box).toHaveValue("first try");

  // With the sidecar attached, the same send goes through it.
  const sidecar = watchCommands(s);
  try {
    await sidecar.attached;
    await box.fill("yes, here");
    await send.click();
    await expect(page.getByRole("status").filter({ hasText: "Sent (Web.js)." })).toBeVisible();
    await expect(box).toHaveValue("");
    const messages = page.getByRole("list", { name: "Messages" }).getByRole("listitem");
    await expect(messages.first()).toContainText("yes, here");
    await expect(messages.first()).toContainText("You");
    await expect(messages.filter({ hasText: "yes, here" })).toHaveCount(1);
    await expect(page.getByRole("alert")).toHaveCount(0);
    expect(sidecar.sent).toHaveLength(1);
    expect(sidecar.sent[0]).toMatchObject({ chatJid: chat.jid, text: "yes, here" });
  } finally {
    sidecar.stop();
  }

  // The chats list shows the sent message as the chat's last one.
  await page.getByRole("link", { name: "← All chats" }).click();
  await expect(chatRow(page, name)).toContainText("yes, here");
});
