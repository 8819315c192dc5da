import { expect, test } from "@playwright/test";
import QRCode from "qrcode";
import { Provider, SessionStatus, sessionClient, uniq } from "./support/api";
import { shot, signIn } from "./support/app";

// WhatsApp is unreachable here: the e2e binary (go build -tags e2e) pairs
// against the fake server of cmd/chatsync/e2e_hook.go, which hands out
// these codes through whatsmeow's real QR channel. Production builds do
// not contain it (TestProductionBuildHasNoE2EHook).
const firstCode = "2@chatsync-e2e-ref-1,Zm9vYmFyYmF6cXV4,cXV1eGJhemJhcmZvbw==,c2VjcmV0";
const phoneCode = "E2E4-PAIR";

// The data URL the page renders for a code (PairPanel's options).
async function qrDataUrl(code: string): Promise<string> {
  const svg = await QRCode.toString(code, { type: "svg", margin: 2, errorCorrectionLevel: "L" });
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

test("the sessions page renders the QR code of a pairing whatsmeow session", async ({ page }) => {
  const name = `Phone ${uniq()}`;
  const { session } = await sessionClient().createSession({ displayName: name, provider: Provider.WHATSMEOW });
  await signIn(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sessions" }).click();
  const row = page.getByRole("row", { name });
  await expect(row).toContainText("Not paired");

  await page.getByRole("button", { name: `Pair ${name}` }).click();
  const panel = page.getByRole("region", { name: `Pair “${name}”` });
  await panel.getByRole("button", { name: "Show QR code" }).click();
  const qr = panel.locator('img[aria-label="Pairing QR code"]');
  await expect(qr).toBeVisible();
  // The server's code, rendered as a QR code; valid for WhatsApp's first 60 s.
  await expect(qr).toHaveAttribute("src", await qrDataUrl(firstCode));
  await expect(qr).toHaveAttribute("data-rotation", "1");
  await expect(panel.getByRole("status")).toContainText(/Code 1, valid for (60|59|58) s/);
  // The session is pairing, live in the list (session_status event).
  await expect(row).toContainText("Pairing");
  await expect.poll(async () => (await sessionClient().getSession({ sessionId: session!.id })).session?.status).toBe(SessionStatus.PAIRING);
  await shot(page, "sessions");

  // Cancelling ends pairing on the server: the session is pending again.
  await panel.getByRole("button", { name: "Cancel pairing" }).click();
  await expect(qr).toHaveCount(0);
  await expect(row).toContainText("Not paired");
});

test("pairing by phone number shows the code to type on the phone", async ({ page }) => {
  const name = `Phone code ${uniq()}`;
  await sessionClient().createSession({ displayName: name, provider: Provider.WHATSMEOW });
  await signIn(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sessions" }).click();
  await page.getByRole("button", { name: `Pair ${name}` }).click();
  const panel = page.getByRole("region", { name: `Pair “${name}”` });
  await panel.getByLabel("Phone number (optional)").fill("+49 151 1234 5678");
  await panel.getByRole("button", { name: "Get pairing code" }).click();
  await expect(panel.getByLabel("Phone pairing code")).toHaveText(phoneCode);
  await expect(panel.locator('img[aria-label="Pairing QR code"]')).toHaveCount(0);
  await panel.getByRole("button", { name: "Cancel pairing" }).click();
});
