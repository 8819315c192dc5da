import { mount, type ComponentMountingOptions } from "@vue/test-utils";
import { createMemoryHistory, createRouter, type Router } from "vue-router";
import type { Transport } from "@connectrpc/connect";
import type { Component } from "vue";
import { streamKey, transportKey } from "../keys";
import type { ChatStream } from "../composables/useStream";

export function testRouter(): Router {
  const Stub = { template: "<div />" };
  return createRouter({
    history: createMemoryHistory(),
    routes: [
      { path: "/", component: Stub },
      { path: "/signin", name: "signin", component: Stub },
      { path: "/chats", name: "chats", component: Stub },
      { path: "/chats/:id", name: "chat", component: Stub },
      { path: "/sessions", name: "sessions", component: Stub },
    ],
  });
}

// mountWith mounts a component with the app's injections: a (router)
// transport, optionally a stream, and a memory router.
export async function mountWith<C extends Component>(
  component: C,
  opts: { transport: Transport; stream?: ChatStream; router?: Router; props?: Record<string, unknown> },
) {
  const router = opts.router ?? testRouter();
  await router.push("/");
  await router.isReady();
  const provide: Record<symbol, unknown> = { [transportKey as symbol]: opts.transport };
  if (opts.stream) provide[streamKey as symbol] = opts.stream;
  return mount(component, {
    props: opts.props,
    attachTo: document.body,
    global: { plugins: [router], provide },
  } as ComponentMountingOptions<C>);
}

// Resolves after pending promises and Vue updates settle.
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}
