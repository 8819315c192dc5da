import { createRouter, createWebHashHistory, type RouteRecordRaw } from "vue-router";
import { currentToken } from "./composables/useAuth";
import SignInView from "./views/SignInView.vue";
import ChatsView from "./views/ChatsView.vue";
import ChatView from "./views/ChatView.vue";
import MonitoringView from "./views/MonitoringView.vue";
import SessionsView from "./views/SessionsView.vue";

declare module "vue-router" {
  interface RouteMeta {
    // Reachable without a token.
    public?: boolean;
    title?: string;
  }
}

export const routes: RouteRecordRaw[] = [
  { path: "/", redirect: "/chats" },
  { path: "/signin", name: "signin", component: SignInView, meta: { public: true, title: "Sign in" } },
  { path: "/chats", name: "chats", component: ChatsView, meta: { title: "Chats" } },
  { path: "/chats/:id", name: "chat", component: ChatView, props: true, meta: { title: "Chat" } },
  { path: "/sessions", name: "sessions", component: SessionsView, meta: { title: "Sessions" } },
  { path: "/monitoring", name: "monitoring", component: MonitoringView, meta: { title: "Monitoring" } },
  { path: "/:pathMatch(.*)*", redirect: "/chats" },
];

// Hash history: the Go server serves index.html at / only and needs no SPA
// fallback.
export function createAppRouter() {
  const router = createRouter({ history: createWebHashHistory(), routes });
  router.beforeEach((to) => {
    if (!to.meta.public && !currentToken()) {
      return { name: "signin", query: to.fullPath !== "/chats" ? { redirect: to.fullPath } : {} };
    }
    if (to.name === "signin" && currentToken()) return { path: "/chats" };
    return true;
  });
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title} · chatsync` : "chatsync";
  });
  return router;
}
