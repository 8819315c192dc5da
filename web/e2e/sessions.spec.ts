import { expect, test } from "@playwright/test";
import { BatchKind, Provider, chatNames, privateChat, sessionClient, sessionNamed, signedSyncClient, uniq } from "./support/api";
import { signIn } from "./support/app";

test("the sessions page creates a Web.js session whose shown secret signs, edits and deletes it", async ({ page }) => {
  const id = uniq();
  const name = `Shop ${id}`;
  await signIn(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sessions" }).click();
  await expect(page.getByRole("heading", { name: "Sessions", level: 1 })).toBeVisible();

  await page.getByRole("button", { name: "New session" }).click();
  await page.getByLabel("Provider").selectOption({ label: "Web.js" });
  await page.getByLabel("Display name").fill(name);
  await page.getByLabel("Max chats").fill("100");
  await page.getByRole("button", { name: "Create session" }).click();

  // The secret is shown once, and it is the one that signs this session's
  // SyncBatch calls.
  const secret = await page.getByRole("textbox", { name: "Sidecar secret" }).inputValue();
  expect(secret).toMatch(/^[0-9a-f]{64}$/);
  const row = page.getByRole("row", { name });
  await expect(row.getByTestId("provider-badge")).toHaveText("Web.js");
  const created = await sessionNamed(name);
  expect(created?.provider).toBe(Provider.WEBJS);
  expect(created?.syncConfig?.maxChats).toBe(100);
  await signedSyncClient(created!.id, secret).syncBatch({
    sessionId: created!.id, batchId: `ui-secret-${id}`, kind: BatchKind.HISTORY, chats: [privateChat(`Signed with the UI secret ${id}`)],
  });
  await expect.poll(() => chatNames({ sessionIds: [created!.id] })).toContain(`Signed with the UI secret ${id}`);
  await page.getByRole("button", { name: "I have stored it" }).click();
  await expect(page.getByRole("textbox", { name: "Sidecar secret" })).toHaveCount(0);

  // Rename and change the sync config (UpdateSession).
  await page.getByRole("button", { name: `Edit ${name}` }).click();
  const edit = page.getByRole("form", { name: `Edit “${name}”` });
  await edit.getByLabel("Display name").fill(`${name} EU`);
  await edit.getByLabel("Sync window (days)").fill("30");
  await edit.getByRole("button", { name: "Save changes" }).click();
  await expect(edit).toHaveCount(0);
  const renamed = page.getByRole("row", { name: `${name} EU` });
  await expect(renamed).toContainText("Changes saved.");
  const got = (await sessionClient().getSession({ sessionId: created!.id })).session;
  expect(got?.displayName).toBe(`${name} EU`);
  expect(got?.syncConfig).toMatchObject({ maxChats: 100, syncWindowDays: 30 });

  // Delete, after confirming.
  await page.getByRole("button", { name: `Delete ${name} EU` }).click();
  const dialog = page.getByRole("alertdialog", { name: `Delete “${name} EU”?` });
  await dialog.getByRole("button", { name: "Delete session" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(renamed).toHaveCount(0);
  expect(await sessionNamed(`${name} EU`)).toBeUndefined();
});
