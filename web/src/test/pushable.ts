// A stream a test pushes into; a router-transport handler yields from it.
export function pushable<T>() {
  const buf: T[] = [];
  let wake: (() => void) | undefined;
  let failure: unknown;
  let ended = false;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(v: T) {
      buf.push(v);
      notify();
    },
    fail(e: unknown) {
      failure = e;
      notify();
    },
    end() {
      ended = true;
      notify();
    },
    async *iterate(signal?: AbortSignal): AsyncGenerator<T> {
      for (;;) {
        while (buf.length) yield buf.shift() as T;
        if (failure !== undefined) {
          const e = failure;
          failure = undefined;
          throw e;
        }
        if (ended || signal?.aborted) return;
        await new Promise<void>((r) => {
          wake = r;
          signal?.addEventListener("abort", () => r(), { once: true });
        });
      }
    },
  };
}
