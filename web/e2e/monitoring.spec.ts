import { expect, test } from "@playwright/test";
import { BatchKind, chatNames, createSidecarSession, privateChat, push, uniq } from "./support/api";
import { shot, signIn } from "./support/app";

test("the monitoring page shows each session's sync health from the server", async ({ page }) => {
  const id = uniq();
  const s = await createSidecarSession(`Monitored ${id}`);
  const names = [1, 2, 3].map((i) => `Monitored chat ${i} ${id}`);
  await push(s, names.slice(0, 2).map((n) => privateChat(n)), BatchKind.HISTORY);
  await push(s, [privateChat(names[2])]);
  await expect.poll(() => chatNames({ sessionIds: [s.session.id] })).toHaveLength(3);

  await signIn(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Monitoring" }).click();
  await expect(page.getByRole("heading", { name: "Monitoring", level: 1 })).toBeVisible();
  const card = page.getByRole("article", { name: `Monitored ${id}` });
  await expect(card.getByTestId("provider-badge")).toHaveText("Web.js");
  const figure = (term: string) => card.getByRole("term").filter({ hasText: new RegExp(`^${term}$`) }).locator("xpath=following-sibling::dd");
  // It pushed, but no sidecar ever watched its commands: pending.
  await expect(figure("Status")).toHaveText("Waiting for sidecar");
  await expect(figure("Sync status")).toHaveText("Synced");
  await expect(figure("Total synced")).toHaveText("3 chats");
  await expect(figure("Success rate")).toHaveText(/^100\s?%$/);
  await expect(figure("Error rate")).toHaveText(/^0\s?%$/);
  await expect(figure("Last error")).toHaveText("None");
  await expect(figure("Last sync")).not.toHaveText("Never");
  // Two batches finished within the server's one-hour window: 2/60 a minute.
  await expect(card.getByText("0.03/min")).toBeVisible();
  await expect(page.getByRole("link", { name: "Open the Asynq queue UI" })).toHaveAttribute("href", "/asynq/");
  await shot(page, "monitoring");
});
