// Page helpers shared by the specs: sign in through the form, wait for the
// live stream, save a screenshot for reviewers.
import { resolve } from "node:path";
import { expect, type Page } from "@playwright/test";
import { apiToken, serverURL } from "./api";

export const screenshotDir = resolve(import.meta.dirname, "../screenshots");
export const resultsDir = resolve(import.meta.dirname, "../results");

// Opens the app, signs in with the bootstrap token and lands on Chats.
export async function signIn(page: Page, opts: { screenshot?: boolean } = {}): Promise<void> {
  await page.goto(serverURL() + "/");
  await expect(page.getByRole("heading", { name: "Sign in to chatsync" })).toBeVisible();
  await page.getByLabel("API token").fill(apiToken());
  if (opts.screenshot) await shot(page, "sign-in");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Chats", level: 1 })).toBeVisible();
}

// The top bar's stream indicator says "Live" once StreamChatUpdates is open.
export async function waitLive(page: Page): Promise<void> {
  await expect(page.getByTestId("connection-state")).toHaveText("Live");
}

export function chatRow(page: Page, name: string) {
  return page.getByRole("listitem", { name, exact: true });
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: resolve(screenshotDir, `${name}.png`), fullPage: true });
}
