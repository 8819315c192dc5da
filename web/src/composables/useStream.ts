import { inject, onScopeDispose, ref, shallowRef, type Ref } from "vue";
import type { ConnectError } from "@connectrpc/connect";
import type { StreamChatUpdatesResponse } from "../gen/chatsync/v1/chat_service_pb";
import { ResumableStream, type StreamState } from "../lib/streamResume";
import { pruneFinished, pushFailure, reduceSyncFailed, reduceSyncProgress, type FailureEntry, type SyncMap } from "../lib/syncProgress";
import { tsMs } from "../lib/time";
import { streamKey } from "../keys";
import type { ChatClient } from "./useClients";

export type ChatEvent = StreamChatUpdatesResponse;

export interface StreamListener {
  onEvent?(ev: ChatEvent): void;
  // The stream could not resume (out_of_range): reload what you show.
  onReset?(): void | Promise<void>;
}

// ChatStream is the app's one StreamChatUpdates connection (all sessions of
// the workspace); pages subscribe to it and filter for themselves.
export interface ChatStream {
  state: Readonly<Ref<StreamState>>;
  // Delay of the pending reconnect, for the indicator's tooltip.
  retryInMs: Readonly<Ref<number>>;
  syncs: Readonly<Ref<SyncMap>>;
  failures: Readonly<Ref<readonly FailureEntry[]>>;
  subscribe(l: StreamListener): () => void;
  start(): void;
  stop(): Promise<void>;
  reconnectNow(): void;
  dropConnection(): void;
  dismissFailure(eventId: string): void;
}

export interface ChatStreamOptions {
  onUnauthenticated?(err: ConnectError): void;
  idleTimeoutMs?: number;
  assumeLiveAfterMs?: number;
  // How long a finished sync run stays visible.
  keepFinishedMs?: number;
  backoff?(attempt: number): number;
}

export function createChatStream(client: ChatClient, opts: ChatStreamOptions = {}): ChatStream {
  const state = ref<StreamState>("idle");
  const retryInMs = ref(0);
  const syncs = shallowRef<SyncMap>({});
  const failures = shallowRef<readonly FailureEntry[]>([]);
  const listeners = new Set<StreamListener>();
  const keepMs = opts.keepFinishedMs ?? 15_000;
  let pruneTimer: ReturnType<typeof setInterval> | undefined;

  function handle(ev: ChatEvent) {
    const now = Date.now();
    switch (ev.event.case) {
      case "syncProgress":
        syncs.value = reduceSyncProgress(syncs.value, ev.event.value, now);
        break;
      case "syncFailed": {
        const f = ev.event.value;
        syncs.value = reduceSyncFailed(syncs.value, f, now);
        failures.value = pushFailure(failures.value, {
          eventId: ev.eventId,
          sessionId: f.sessionId,
          batchId: f.batchId,
          error: f.error,
          attempts: f.attempts,
          at: tsMs(ev.eventTime) ?? now,
        });
        break;
      }
    }
    for (const l of listeners) {
      try {
        l.onEvent?.(ev);
      } catch (e) {
        console.error("chatsync: stream listener failed", e);
      }
    }
  }

  const rs = new ResumableStream<ChatEvent>({
    open: (resumeToken, signal, onOpen) => client.streamChatUpdates({ resumeToken }, { signal, onHeader: onOpen }),
    onEvent: handle,
    onState: (s, info) => {
      state.value = s;
      retryInMs.value = info.delayMs ?? 0;
    },
    onOutOfRange: async () => {
      await Promise.all([...listeners].map((l) => l.onReset?.()));
    },
    onUnauthenticated: opts.onUnauthenticated,
    idleTimeoutMs: opts.idleTimeoutMs ?? 45_000,
    assumeLiveAfterMs: opts.assumeLiveAfterMs ?? 2_500,
    backoff: opts.backoff,
  });

  return {
    state,
    retryInMs,
    syncs,
    failures,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    start() {
      rs.start();
      if (pruneTimer === undefined) {
        pruneTimer = setInterval(() => (syncs.value = pruneFinished(syncs.value, Date.now(), keepMs)), 1000);
      }
    },
    async stop() {
      if (pruneTimer !== undefined) clearInterval(pruneTimer);
      pruneTimer = undefined;
      await rs.stop();
      state.value = "idle";
    },
    reconnectNow: () => rs.reconnectNow(),
    dropConnection: () => rs.dropConnection(),
    dismissFailure(eventId) {
      failures.value = failures.value.filter((f) => f.eventId !== eventId);
    },
  };
}

// useStream returns the app's stream, or undefined outside the signed-in app
// (and in component tests that do not provide one).
export function useStream(): ChatStream | undefined {
  return inject(streamKey, undefined);
}

// useStreamEvents subscribes for the lifetime of the calling component.
export function useStreamEvents(l: StreamListener): void {
  const s = useStream();
  if (!s) return;
  const off = s.subscribe(l);
  onScopeDispose(off);
}
