import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ChatSchema, ChatType, type Chat } from "../gen/chatsync/v1/chat_pb";
import { Provider, SessionSchema, SessionStatus, type Session } from "../gen/chatsync/v1/session_pb";

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

type Fields<T> = Partial<Omit<T, "$typeName" | "$unknown">>;
export type ChatInit = Fields<Chat> & { minutesAgo?: number };

// A chat for tests; activity `minutesAgo` before T0 unless lastActivityTime
// is given.
export function chat(id: string, over: ChatInit = {}): Chat {
  const { minutesAgo = 0, ...rest } = over;
  return create(ChatSchema, {
    id,
    sessionId: "1",
    sessionName: "Support line",
    provider: Provider.WHATSMEOW,
    jid: `1555000${id.padStart(4, "0")}@s.whatsapp.net`,
    type: ChatType.PRIVATE,
    name: `Chat ${id}`,
    phone: `+1555000${id.padStart(4, "0")}`,
    lastMessagePreview: `hello from ${id}`,
    lastActivityTime: timestampFromMs(T0 - minutesAgo * 60_000),
    ...rest,
  });
}

export function group(id: string, participants: number, over: ChatInit = {}): Chat {
  return chat(id, {
    type: ChatType.GROUP,
    jid: `12036300000${id}@g.us`,
    name: `Group ${id}`,
    phone: "",
    participantCount: participants,
    ...over,
  });
}

export function session(id: string, name: string, provider = Provider.WHATSMEOW, status = SessionStatus.CONNECTED): Session {
  return create(SessionSchema, { id, displayName: name, provider, status });
}
