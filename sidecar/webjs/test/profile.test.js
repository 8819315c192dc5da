import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { browserTempDir, clearStaleLock, destroyClient, lockHolder, pidAlive, profileDir } from "../src/profile.js";

/** A profile dir with Chromium's singleton files as a browser with pid leaves them. */
function profileWithLock(t, host, pid) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "chatsync-profile-test-"));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const tmp = path.join(root, "tmp");
  const sock = path.join(tmp, "org.chromium.Chromium.Ab12Cd");
  fs.mkdirSync(sock, { recursive: true });
  fs.writeFileSync(path.join(sock, "SingletonSocket"), "");
  const dir = path.join(root, "auth", "session-chatsync-42");
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(`${host}-${pid}`, path.join(dir, "SingletonLock"));
  fs.symlinkSync(path.join(sock, "SingletonSocket"), path.join(dir, "SingletonSocket"));
  fs.symlinkSync("8123456789", path.join(dir, "SingletonCookie"));
  return { dir, tmp, sock };
}

function exists(p) {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

test("profileDir is LocalAuth's dir for the session", () => {
  assert.equal(profileDir({ authDir: "/data/auth", sessionId: "42" }), "/data/auth/session-chatsync-42");
});

test("a stale lock of a dead browser is cleared, with its temp dir", async (t) => {
  // A real process that has exited: its pid is free.
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((resolve) => child.once("exit", resolve));
  const { dir, tmp, sock } = profileWithLock(t, os.hostname(), child.pid);
  assert.deepEqual(lockHolder(dir), { host: os.hostname(), pid: child.pid });
  assert.equal(pidAlive(child.pid), false);
  assert.equal(browserTempDir(dir, tmp), sock);

  assert.equal(clearStaleLock(dir, { tmpDir: tmp }), "cleared");
  for (const f of ["SingletonLock", "SingletonSocket", "SingletonCookie"]) assert.ok(!exists(path.join(dir, f)), `${f} removed`);
  assert.ok(!exists(sock), "the browser's /tmp dir is removed");
  assert.equal(clearStaleLock(dir, { tmpDir: tmp }), "none");
});

test("a lock a live process holds is left alone", (t) => {
  const { dir, tmp, sock } = profileWithLock(t, os.hostname(), process.pid);
  assert.equal(clearStaleLock(dir, { tmpDir: tmp }), "live");
  assert.ok(exists(path.join(dir, "SingletonLock")));
  assert.ok(exists(sock));
});

test("a lock from another host counts as dead (a restarted container)", (t) => {
  const { dir, tmp } = profileWithLock(t, "old-pod-7f9c", process.pid);
  assert.equal(clearStaleLock(dir, { tmpDir: tmp }), "cleared");
  assert.equal(lockHolder(dir), null);
});

test("a socket outside Chromium's temp dirs is not followed", (t) => {
  const { dir, tmp } = profileWithLock(t, os.hostname(), 999999999);
  fs.unlinkSync(path.join(dir, "SingletonSocket"));
  fs.symlinkSync("/etc/passwd", path.join(dir, "SingletonSocket"));
  assert.equal(browserTempDir(dir, tmp), "");
  assert.equal(clearStaleLock(dir, { tmpDir: tmp }), "cleared");
  assert.ok(exists("/etc/passwd"));
});

test("destroyClient kills a browser destroy() left running and clears its lock", async (t) => {
  const browser = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
  const { dir } = profileWithLock(t, os.hostname(), browser.pid);
  const client = {
    destroyed: 0,
    async destroy() {
      this.destroyed++;
      throw new Error("Protocol error: Target closed"); // the page crashed
    },
    pupBrowser: { process: () => browser },
  };
  const warnings = [];
  await destroyClient(client, dir, { warn: (o, m) => warnings.push(m) });
  assert.equal(client.destroyed, 1);
  assert.equal(browser.signalCode, "SIGKILL");
  assert.equal(lockHolder(dir), null, "the dead browser's lock is cleared");
  assert.equal(warnings.length, 1);
});
