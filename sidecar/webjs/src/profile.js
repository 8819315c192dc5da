// The browser profile whatsapp-web.js's LocalAuth keeps in the auth dir, and
// what a Chromium that died leaves in it: SingletonLock ("<host>-<pid>"),
// SingletonCookie, and SingletonSocket pointing into a
// /tmp/org.chromium.Chromium.* dir. A stale lock makes every later start
// fail ("The profile appears to be in use by another Chromium process"),
// so it is cleared before each start, unless a live browser holds it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** The profile dir LocalAuth uses for a session (clientId chatsync-<id>). */
export function profileDir(config) {
  return path.join(path.resolve(config.authDir), `session-chatsync-${config.sessionId}`);
}

/**
 * Who holds a profile's SingletonLock, or null when there is none.
 * @param {string} dir
 * @returns {{host: string, pid: number} | null}
 */
export function lockHolder(dir) {
  let target;
  try {
    target = fs.readlinkSync(path.join(dir, "SingletonLock"));
  } catch {
    return null;
  }
  const i = target.lastIndexOf("-");
  return { host: i > 0 ? target.slice(0, i) : target, pid: Number(target.slice(i + 1)) };
}

/** Whether a process with this pid runs on this host. */
export function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM"; // it exists, owned by someone else
  }
}

/**
 * Removes a dead browser's singleton files from the profile, and the
 * /tmp/org.chromium.Chromium.* dir its socket lived in. A lock held by a
 * live process on this host is left alone ("live"). A lock from another
 * host counts as dead: two sidecars never share a session's auth dir (they
 * would fight over one WhatsApp Web session), and a container restarted
 * under a new hostname left it.
 * @param {string} dir
 * @param {{hostname?: string, isAlive?: (pid: number) => boolean, tmpDir?: string}} [opts]
 * @returns {"none" | "live" | "cleared"}
 */
export function clearStaleLock(dir, opts = {}) {
  const hostname = opts.hostname ?? os.hostname();
  const isAlive = opts.isAlive ?? pidAlive;
  const holder = lockHolder(dir);
  if (holder && holder.host === hostname && isAlive(holder.pid)) return "live";
  const socketDir = browserTempDir(dir, opts.tmpDir);
  let removed = false;
  for (const name of ["SingletonLock", "SingletonSocket", "SingletonCookie"]) {
    try {
      fs.unlinkSync(path.join(dir, name));
      removed = true;
    } catch {
      // not there
    }
  }
  if (socketDir) {
    fs.rmSync(socketDir, { recursive: true, force: true });
    removed = true;
  }
  return removed ? "cleared" : "none";
}

/**
 * The temp dir a profile's SingletonSocket points into, when it is one of
 * Chromium's (org.chromium.Chromium.* right under the temp dir); else "".
 * @param {string} dir
 * @param {string} [tmpDir]
 */
export function browserTempDir(dir, tmpDir = os.tmpdir()) {
  let target;
  try {
    target = fs.readlinkSync(path.join(dir, "SingletonSocket"));
  } catch {
    return "";
  }
  const parent = path.dirname(path.resolve(dir, target));
  const ok = path.dirname(parent) === path.resolve(tmpDir) && /^org\.chromium\.Chromium\.[A-Za-z0-9]+$/.test(path.basename(parent));
  return ok ? parent : "";
}

/**
 * Destroys a whatsapp-web.js client on every exit path: closes the browser
 * when it is still connected, kills its process when it is not (a crashed
 * page leaves Chromium running), then clears what the dead browser left in
 * the profile.
 * @param {any} client
 * @param {string} dir the profile dir
 * @param {{warn: (o: any, m: string) => void}} logger
 */
export async function destroyClient(client, dir, logger) {
  await Promise.resolve()
    .then(() => client.destroy())
    .catch((err) => logger.warn({ error: String(err?.message ?? err) }, "Closing the browser failed; killing it"));
  const proc = client.pupBrowser?.process?.();
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    proc.kill("SIGKILL");
    await new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once("exit", resolve);
      setTimeout(resolve, 5_000).unref?.();
    });
  }
  clearStaleLock(dir);
}
