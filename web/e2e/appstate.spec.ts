import { expect, test } from "@playwright/test";
import { createSidecarSession, privateChat, push, uniq } from "./support/api";
import { chatRow, shot, signIn, waitLive } from "./support/app";

// The phone's app state in the chat list: a pinned chat leads it although
// others are newer, an archived chat shows under the Archive filter's
// "Archived" and not under "Not archived".
test("a pinned chat leads the list and an archived one shows under Archived", async ({ page }) => {
  const id = uniq();
  const sidecar = await createSidecarSession(`App state ${id}`);
  const now = Date.now();
  const pinned = privateChat(`Pinned ${id}`, { at: now - 3_600_000 });
  pinned.pinned = true;
  const archived = privateChat(`Archived ${id}`, { at: now - 60_000 });
  archived.archived = true;
  const plain = privateChat(`Plain ${id}`, { at: now - 30_000 });
  await push(sidecar, [pinned, archived, plain]);

  await signIn(page);
  await waitLive(page);
  await page.getByLabel("Session", { exact: true }).selectOption({ label: `App state ${id}` });
  const rows = page.getByTestId("chat-row");
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toHaveAttribute("aria-label", `Pinned ${id}`);
  await expect(rows.nth(1)).toHaveAttribute("aria-label", `Plain ${id}`);
  await expect(rows.nth(2)).toHaveAttribute("aria-label", `Archived ${id}`);
  await expect(chatRow(page, `Archived ${id}`)).toContainText("Archived");
  await shot(page, "app-state-all");

  const archive = page.getByLabel("Archive", { exact: true });
  await archive.selectOption({ label: "Archived" });
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("aria-label", `Archived ${id}`);
  await archive.selectOption({ label: "Not archived" });
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toHaveAttribute("aria-label", `Pinned ${id}`);
  await expect(chatRow(page, `Archived ${id}`)).toHaveCount(0);
});
