import { computed, ref, shallowRef } from "vue";
import { Code } from "@connectrpc/connect";
import type { Session } from "../gen/chatsync/v1/session_pb";
import { describeError, type ReadableError } from "../lib/errors";
import { useSessionClient } from "./useClients";
import { useStreamEvents } from "./useStream";

// useSessions loads all of the workspace's sessions (every page; a workspace
// has few) and keeps their status current from session_status events.
export function useSessions() {
  const client = useSessionClient();
  const sessions = shallowRef<Session[]>([]);
  const loading = ref(false);
  const loaded = ref(false);
  const error = ref<ReadableError | null>(null);
  let generation = 0;

  async function reload(): Promise<void> {
    const gen = ++generation;
    loading.value = true;
    try {
      const all: Session[] = [];
      let pageToken = "";
      for (let i = 0; i < 50; i++) {
        const res = await client.listSessions({ pageSize: 200, pageToken });
        all.push(...res.sessions);
        pageToken = res.nextPageToken;
        if (!pageToken) break;
      }
      if (gen !== generation) return;
      sessions.value = all;
      error.value = null;
      loaded.value = true;
    } catch (e) {
      if (gen === generation) error.value = describeError(e);
    } finally {
      if (gen === generation) loading.value = false;
    }
  }

  function replace(s: Session): void {
    const i = sessions.value.findIndex((x) => x.id === s.id);
    const out = sessions.value.slice();
    if (i >= 0) out[i] = s;
    else out.push(s);
    sessions.value = out;
  }

  function remove(id: string): void {
    sessions.value = sessions.value.filter((s) => s.id !== id);
  }

  useStreamEvents({
    onEvent(ev) {
      if (ev.event.case !== "sessionStatus") return;
      const { sessionId, status } = ev.event.value;
      const i = sessions.value.findIndex((s) => s.id === sessionId);
      if (i < 0) return;
      const out = sessions.value.slice();
      out[i] = { ...out[i], status };
      sessions.value = out;
    },
    onReset: reload,
  });

  const names = computed(() => new Map(sessions.value.map((s) => [s.id, s.displayName])));

  return {
    sessions,
    loading,
    loaded,
    error,
    unimplemented: computed(() => error.value?.code === Code.Unimplemented),
    names,
    reload,
    replace,
    remove,
  };
}
