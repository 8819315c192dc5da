import type { InjectionKey } from "vue";
import type { Transport } from "@connectrpc/connect";
import type { ChatStream } from "./composables/useStream";

// The one Connect transport of the app, created in main.ts (examples-es
// style). Components call createClient(Service, inject(transportKey)!).
export const transportKey: InjectionKey<Transport> = Symbol("chatsync.transport");

// The app-wide StreamChatUpdates connection, created in App.vue once signed in.
export const streamKey: InjectionKey<ChatStream> = Symbol("chatsync.stream");
