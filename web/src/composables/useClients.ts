import { inject } from "vue";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { ChatService } from "../gen/chatsync/v1/chat_service_pb";
import { SessionService } from "../gen/chatsync/v1/session_service_pb";
import { transportKey } from "../keys";

export function useTransport(): Transport {
  const t = inject(transportKey);
  if (!t) throw new Error("chatsync: no Connect transport provided (see main.ts)");
  return t;
}

export type ChatClient = Client<typeof ChatService>;
export type SessionClient = Client<typeof SessionService>;

export function useChatClient(): ChatClient {
  return createClient(ChatService, useTransport());
}

export function useSessionClient(): SessionClient {
  return createClient(SessionService, useTransport());
}
