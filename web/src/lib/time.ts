import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";

// Milliseconds since the epoch of a protobuf Timestamp; undefined when unset.
export function tsMs(ts: Timestamp | undefined): number | undefined {
  if (!ts) return undefined;
  return Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000);
}

// Milliseconds of a protobuf Duration; undefined when unset.
export function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds) * 1000 + d.nanos / 1_000_000;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// Short relative time for list rows: "just now", "5 min", "3 h", "Yesterday",
// a weekday within the last week, else a date.
export function relativeTime(ms: number | undefined, now: number): string {
  if (ms === undefined || ms <= 0) return "";
  const diff = now - ms;
  if (diff < MINUTE) return "just now";
  if (diff < HOUR) return `${Math.floor(diff / MINUTE)} min`;
  const then = new Date(ms);
  const today = new Date(now);
  today.setHours(0, 0, 0, 0);
  if (ms >= today.getTime()) return `${Math.floor(diff / HOUR)} h`;
  if (ms >= today.getTime() - DAY) return "Yesterday";
  if (ms >= today.getTime() - 6 * DAY) return then.toLocaleDateString(undefined, { weekday: "short" });
  const sameYear = then.getFullYear() === today.getFullYear();
  return then.toLocaleDateString(undefined, sameYear ? { day: "numeric", month: "short" } : { day: "numeric", month: "short", year: "numeric" });
}

// Full local date and time, for titles and detail pages.
export function formatDateTime(ms: number | undefined): string {
  if (ms === undefined || ms <= 0) return "";
  return new Date(ms).toLocaleString();
}

// A duration for people: "850 ms", "1.2 s", "3 min 5 s".
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < MINUTE) return `${(ms / 1000).toFixed(1)} s`;
  const min = Math.floor(ms / MINUTE);
  const s = Math.round((ms % MINUTE) / 1000);
  return s ? `${min} min ${s} s` : `${min} min`;
}
