import { onScopeDispose, ref, type Ref } from "vue";

// A clock that ticks every intervalMs, for relative times.
export function useNow(intervalMs = 30_000): Ref<number> {
  const now = ref(Date.now());
  const t = setInterval(() => (now.value = Date.now()), intervalMs);
  onScopeDispose(() => clearInterval(t));
  return now;
}
