import { expect, test } from "@playwright/test";
import { BatchKind, Provider, chatNames, createSidecarSession, groupChat, privateChat, push, uniq } from "./support/api";
import { chatRow, shot, signIn } from "./support/app";

test("choosing a session in the dropdown shows only that session's chats", async ({ page }) => {
  const id = uniq();
  const alpha = await createSidecarSession(`Alpha ${id}`);
  const beta = await createSidecarSession(`Beta ${id}`);
  const alphaChats = [`Alpha one ${id}`, `Alpha two ${id}`];
  const betaChats = [`Beta one ${id}`, `Beta two ${id}`, `Beta three ${id}`];
  await push(alpha, alphaChats.map((n) => privateChat(n)), BatchKind.HISTORY);
  await push(beta, betaChats.map((n) => privateChat(n)), BatchKind.HISTORY);

  await signIn(page);
  // All sessions: both sessions' chats are listed.
  for (const n of [...alphaChats, ...betaChats]) await expect(chatRow(page, n)).toBeVisible();

  const session = page.getByLabel("Session", { exact: true });
  await session.selectOption({ label: `Alpha ${id}` });
  const rows = page.getByTestId("chat-row");
  await expect(rows).toHaveCount(alphaChats.length);
  for (const n of alphaChats) await expect(chatRow(page, n)).toBeVisible();
  for (const n of betaChats) await expect(chatRow(page, n)).toHaveCount(0);

  await session.selectOption({ label: `Beta ${id}` });
  await expect(rows).toHaveCount(betaChats.length);
  for (const n of betaChats) await expect(chatRow(page, n)).toBeVisible();
  for (const n of alphaChats) await expect(chatRow(page, n)).toHaveCount(0);

  // A live chat of the other session does not leak into the filtered list;
  // one of the chosen session does.
  await push(alpha, [privateChat(`Alpha live ${id}`)]);
  // Stored (so its event is in the stream) before Beta's live chat is sent.
  await expect.poll(() => chatNames({ sessionIds: [alpha.session.id] })).toContain(`Alpha live ${id}`);
  await push(beta, [privateChat(`Beta live ${id}`)]);
  await expect(chatRow(page, `Beta live ${id}`)).toBeVisible();
  await expect(rows).toHaveCount(betaChats.length + 1);
  await expect(chatRow(page, `Alpha live ${id}`)).toHaveCount(0);

  await session.selectOption({ label: "All sessions" });
  await expect(chatRow(page, `Alpha live ${id}`)).toBeVisible();
  await expect(chatRow(page, `Alpha one ${id}`)).toBeVisible();
});

test("a group shows its group icon, participant count and provider badge; its page lists members", async ({ page }) => {
  const id = uniq();
  const webjs = await createSidecarSession(`Groups ${id}`, Provider.WEBJS);
  const meow = await createSidecarSession(`Phone ${id}`, Provider.WHATSMEOW);
  const group = `Team ${id}`;
  const person = `Person ${id}`;
  const otherGroup = `Family ${id}`;
  const personChat = privateChat(person);
  await push(webjs, [groupChat(group, 5), personChat], BatchKind.HISTORY);
  await push(meow, [groupChat(otherGroup, 3)], BatchKind.HISTORY);

  await signIn(page);
  const row = chatRow(page, group);
  await expect(row).toBeVisible();
  await expect(row.getByRole("img", { name: "Group" })).toBeVisible();
  await expect(row.getByTestId("participant-count")).toHaveText("5 participants");
  await expect(row.getByTestId("provider-badge")).toHaveText("Web.js");

  const other = chatRow(page, otherGroup);
  await expect(other.getByRole("img", { name: "Group" })).toBeVisible();
  await expect(other.getByTestId("participant-count")).toHaveText("3 participants");
  await expect(other.getByTestId("provider-badge")).toHaveText("whatsmeow");

  // A private chat has initials instead of the icon, its E.164 phone and no
  // participant count.
  const p = chatRow(page, person);
  await expect(p.getByRole("img", { name: "Group" })).toHaveCount(0);
  await expect(p.getByTestId("participant-count")).toHaveCount(0);
  await expect(p.getByTestId("chat-phone")).toHaveText(personChat.contact!.phone);
  await expect(p.getByTestId("provider-badge")).toHaveText("Web.js");

  // Type filter: groups only.
  await page.getByLabel("Type", { exact: true }).selectOption({ label: "Group" });
  await expect(p).toHaveCount(0);
  await expect(row).toBeVisible();

  // The group's page: its members with their roles, and its message.
  await row.getByRole("link").click();
  await expect(page.getByRole("heading", { name: group, level: 1 })).toBeVisible();
  await expect(page.getByText(`Welcome to ${group}`)).toBeVisible();
  const members = page.getByRole("list", { name: "Participants" });
  await expect(members.getByRole("listitem")).toHaveCount(5);
  await expect(members.getByText("Owner", { exact: true })).toHaveCount(1);
  await expect(members.getByText("Admin", { exact: true })).toHaveCount(1);
  await expect(members.getByText("Member", { exact: true })).toHaveCount(3);
  await expect(page.getByTestId("participant-count")).toHaveText("5 participants");
  await shot(page, "chat");
});
