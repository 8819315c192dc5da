import { computed, ref, shallowRef, watch, type Ref } from "vue";
import type { Chat } from "../gen/chatsync/v1/chat_pb";
import { applyChatUpsert, compareChats, mergeById } from "../lib/chatList";
import { describeError, type ReadableError } from "../lib/errors";
import { matchesFilters, toListChatsRequest, type ChatFilters } from "../lib/filters";
import { useChatClient } from "./useClients";
import { useStreamEvents } from "./useStream";

export interface UseChatsOptions {
  pageSize?: number;
}

// useChats holds the Chats page's list: pages from ListChats (keyset, the
// page token passed back exactly as received) merged without duplicates with
// live chat_upserted events, and the count of chats that arrived live since
// the user last looked.
export function useChats(filters: Ref<ChatFilters>, opts: UseChatsOptions = {}) {
  const client = useChatClient();
  const pageSize = opts.pageSize ?? 50;

  const chats = shallowRef<Chat[]>([]);
  // The pinned chats matching the filters, fetched on their own (WhatsApp
  // pins at most three per account) and shown first, as on the phone.
  const pinned = shallowRef<Chat[]>([]);
  const nextPageToken = ref("");
  const loading = ref(false); // first page
  const loadingMore = ref(false);
  const loaded = ref(false);
  const error = ref<ReadableError | null>(null);
  const newChatIds = ref<ReadonlySet<string>>(new Set());
  const hasMore = computed(() => nextPageToken.value !== "");

  // Responses of a previous filter set are dropped.
  let generation = 0;

  async function fetchPage(gen: number, token: string): Promise<void> {
    try {
      const res = await client.listChats(toListChatsRequest(filters.value, token, pageSize));
      if (gen !== generation) return;
      chats.value = mergeById(chats.value, res.chats);
      nextPageToken.value = res.nextPageToken;
      loaded.value = true;
      error.value = null;
    } catch (e) {
      if (gen !== generation) return;
      error.value = describeError(e);
    }
  }

  async function fetchPinned(gen: number): Promise<void> {
    try {
      const req = toListChatsRequest(filters.value, "", 50);
      req.pinned = true;
      const res = await client.listChats(req);
      if (gen === generation) pinned.value = res.chats;
    } catch {
      // The list still loads; pinned chats then show in their place by
      // activity, as the main list holds them too.
    }
  }

  async function reload(): Promise<void> {
    const gen = ++generation;
    chats.value = [];
    pinned.value = [];
    nextPageToken.value = "";
    newChatIds.value = new Set();
    loaded.value = false;
    error.value = null;
    loading.value = true;
    try {
      await Promise.all([fetchPage(gen, ""), fetchPinned(gen)]);
    } finally {
      if (gen === generation) loading.value = false;
    }
  }

  async function loadMore(): Promise<void> {
    if (loading.value || loadingMore.value || !hasMore.value) return;
    const gen = generation;
    loadingMore.value = true;
    try {
      await fetchPage(gen, nextPageToken.value);
    } finally {
      if (gen === generation) loadingMore.value = false;
    }
  }

  function applyUpsert(chat: Chat): void {
    // Pinned or unpinned on the phone: in or out of the pinned section.
    const wasPinned = pinned.value.some((c) => c.id === chat.id);
    if (chat.pinned && matchesFilters(chat, filters.value)) {
      pinned.value = [...pinned.value.filter((c) => c.id !== chat.id), chat].sort(compareChats);
    } else if (wasPinned) {
      pinned.value = pinned.value.filter((c) => c.id !== chat.id);
    }
    const r = applyChatUpsert(chats.value, chat, filters.value, { hasMore: hasMore.value });
    if (r.change === "ignored") return;
    chats.value = r.list;
    if (r.change === "inserted") {
      const s = new Set(newChatIds.value);
      s.add(chat.id);
      newChatIds.value = s;
    } else if (r.change === "removed" && newChatIds.value.has(chat.id)) {
      const s = new Set(newChatIds.value);
      s.delete(chat.id);
      newChatIds.value = s;
    }
  }

  // A chat merged into another (one person's LID and phone chats) leaves
  // the list; the chat it went into comes as chat_upserted.
  function applyRemoval(chatId: string): void {
    if (pinned.value.some((c) => c.id === chatId)) pinned.value = pinned.value.filter((c) => c.id !== chatId);
    if (!chats.value.some((c) => c.id === chatId)) return;
    chats.value = chats.value.filter((c) => c.id !== chatId);
    if (newChatIds.value.has(chatId)) {
      const s = new Set(newChatIds.value);
      s.delete(chatId);
      newChatIds.value = s;
    }
  }

  function markSeen(): void {
    if (newChatIds.value.size) newChatIds.value = new Set();
  }

  useStreamEvents({
    onEvent(ev) {
      if (ev.event.case === "chatUpserted" && ev.event.value.chat) applyUpsert(ev.event.value.chat);
      else if (ev.event.case === "chatRemoved") applyRemoval(ev.event.value.chatId);
    },
    onReset: reload,
  });

  watch(filters, () => void reload(), { deep: true });

  // What the page shows: the pinned chats, then the others by activity.
  const shown = computed(() => {
    if (pinned.value.length === 0) return chats.value;
    const ids = new Set(pinned.value.map((c) => c.id));
    return [...pinned.value, ...chats.value.filter((c) => !ids.has(c.id))];
  });

  return {
    chats,
    pinned,
    shown,
    loading,
    loadingMore,
    loaded,
    error,
    hasMore,
    nextPageToken,
    newChatIds,
    newChatCount: computed(() => newChatIds.value.size),
    reload,
    loadMore,
    applyUpsert,
    applyRemoval,
    markSeen,
  };
}
