import { BatchKind } from "../gen/chatsync/v1/sync_pb";
import type { SyncFailed, SyncProgress } from "../gen/chatsync/v1/chat_service_pb";

// One session's running (or just finished) history sync, as the Chats page
// shows it.
export interface SessionSync {
  sessionId: string;
  // Chats written by the batches of this run.
  written: number;
  // Chats of this run's batches whose chunk failed.
  failed: number;
  // Chats written for the session in total (server figure).
  totalSynced: number;
  // The session's batches still queued or processing.
  pending: number;
  done: boolean;
  error?: string;
  startedAt: number;
  updatedAt: number;
}

export type SyncMap = Readonly<Record<string, SessionSync>>;

// reduceSyncProgress folds a sync_progress event in. A history batch starts
// (or continues) a run; live batches only update a run already going, so
// every new message does not flash a progress bar. A run is done when no
// batch of the session is pending.
export function reduceSyncProgress(state: SyncMap, ev: SyncProgress, now: number): SyncMap {
  const prev = state[ev.sessionId];
  const running = prev !== undefined && !prev.done;
  if (!running && ev.kind !== BatchKind.HISTORY) return state;
  const base: SessionSync = running
    ? prev
    : { sessionId: ev.sessionId, written: 0, failed: 0, totalSynced: 0, pending: 0, done: false, startedAt: now, updatedAt: now };
  const pending = Number(ev.pendingBatches);
  const next: SessionSync = {
    ...base,
    written: base.written + ev.writtenCount,
    failed: base.failed + ev.failedCount,
    totalSynced: Number(ev.totalSynced),
    pending,
    done: pending <= 0,
    updatedAt: now,
  };
  return { ...state, [ev.sessionId]: next };
}

// reduceSyncFailed marks the session's run (if any) as failed.
export function reduceSyncFailed(state: SyncMap, ev: SyncFailed, now: number): SyncMap {
  const prev = state[ev.sessionId];
  if (!prev) return state;
  return { ...state, [ev.sessionId]: { ...prev, error: ev.error, updatedAt: now } };
}

// pruneFinished drops runs that finished more than keepMs ago.
export function pruneFinished(state: SyncMap, now: number, keepMs: number): SyncMap {
  let changed = false;
  const out: Record<string, SessionSync> = {};
  for (const [id, s] of Object.entries(state)) {
    if (s.done && now - s.updatedAt > keepMs) {
      changed = true;
      continue;
    }
    out[id] = s;
  }
  return changed ? out : state;
}

// A sync_failed event kept for the Monitoring page and the failure banner.
export interface FailureEntry {
  eventId: string;
  sessionId: string;
  batchId: string;
  error: string;
  attempts: number;
  at: number;
}

export function pushFailure(list: readonly FailureEntry[], entry: FailureEntry, max = 50): FailureEntry[] {
  if (entry.eventId !== "" && list.some((f) => f.eventId === entry.eventId)) return list.slice();
  return [entry, ...list].slice(0, max);
}
