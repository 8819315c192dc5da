import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { SyncService } from "./gen/chatsync/v1/sync_service_pb.js";
import { createSigningFetch } from "./signing.js";

/**
 * A SyncService client whose every request is signed for the session.
 * connect-web's transport runs on Node 20's global fetch; the signing fetch
 * sees the exact body bytes it sends.
 * @param {{url: string, sessionId: string, secret: string, protocol?: "binary"|"json"}} config
 * @param {{fetch?: typeof globalThis.fetch, now?: () => number}} [deps]
 */
export function createSyncApi(config, deps = {}) {
  const transport = createConnectTransport({
    baseUrl: config.url,
    useBinaryFormat: config.protocol !== "json",
    fetch: createSigningFetch({ sessionId: config.sessionId, secret: config.secret, fetch: deps.fetch, now: deps.now }),
  });
  return createClient(SyncService, transport);
}
