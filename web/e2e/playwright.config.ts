import { defineConfig } from "@playwright/test";

// End-to-end suite: Debian's Chromium (never a downloaded browser) drives the
// web client served by the real `chatsync serve` on PostgreSQL and Redis,
// which global-setup.ts starts (`go tool task test:e2e` builds it first).
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export default defineConfig({
  testDir: ".",
  testMatch: /.*\.spec\.ts$/,
  outputDir: "results/artifacts",
  globalSetup: "./global-setup.ts",
  // One worker: the specs share one server, and the realtime latency is
  // measured on a quiet machine rather than beside other browsers.
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHATSYNC_E2E_CHROMIUM || "/usr/bin/chromium",
      // Playwright gives each launch a fresh temporary profile directory.
      args: chromiumArgs,
    },
  },
});
