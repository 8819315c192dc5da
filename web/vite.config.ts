/// <reference types="vitest/config" />
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig, type Plugin } from "vite";
import vue from "@vitejs/plugin-vue";

const backend = "http://127.0.0.1:8080";

// The Go binary embeds web/dist with //go:embed all:dist, which fails on an
// empty directory, so the tracked (empty) dist/.keep must survive the
// emptyOutDir clean that vite does at the start of every build.
function keepDistPlaceholder(): Plugin {
  return {
    name: "chatsync-keep-dist-placeholder",
    apply: "build",
    closeBundle() {
      const dist = resolve(import.meta.dirname, "dist");
      mkdirSync(dist, { recursive: true });
      const keep = resolve(dist, ".keep");
      if (!existsSync(keep)) writeFileSync(keep, "");
    },
  };
}

export default defineConfig({
  plugins: [vue(), keepDistPlaceholder()],
  // Served by the Go server at / (same origin); relative asset URLs keep the
  // build independent of the mount point.
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
  },
  server: {
    proxy: {
      // Connect RPCs: /chatsync.v1.ChatService/ListChats and friends.
      "^/chatsync\\.v1\\.": { target: backend, changeOrigin: false },
      "/asynq": { target: backend },
      "/metrics": { target: backend },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts"],
    restoreMocks: true,
  },
});
