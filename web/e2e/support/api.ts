// The test's side of the API: generated Connect-ES clients on Node's fetch,
// with the bootstrap API token for SessionService and ChatService, and the
// sidecar's own signing code (sidecar/webjs/src/signing.js) for SyncBatch,
// so the pushes are signed exactly as a real sidecar signs them.
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ChatService } from "../../src/gen/chatsync/v1/chat_service_pb";
import { ChatType, ParticipantRole } from "../../src/gen/chatsync/v1/chat_pb";
import { SessionService } from "../../src/gen/chatsync/v1/session_service_pb";
import { Provider, SessionStatus, type Session } from "../../src/gen/chatsync/v1/session_pb";
import { SyncService } from "../../src/gen/chatsync/v1/sync_service_pb";
import { BatchKind, BatchStatus, SyncChatSchema, type SendCommand, type SyncChat } from "../../src/gen/chatsync/v1/sync_pb";
import { createSigningFetch } from "../../../sidecar/webjs/src/signing.js";

export { ChatType, Provider, BatchKind, SessionStatus };

export function serverURL(): string {
  const url = process.env.CHATSYNC_E2E_URL;
  if (!url) throw new Error("CHATSYNC_E2E_URL is not set: run the suite through its global setup (go tool task test:e2e)");
  return url;
}

export function apiToken(): string {
  const t = process.env.CHATSYNC_E2E_TOKEN;
  if (!t) throw new Error("CHATSYNC_E2E_TOKEN is not set: run the suite through its global setup");
  return t;
}

const bearer: Interceptor = (next) => (req) => {
  req.header.set("Authorization", `Bearer ${apiToken()}`);
  return next(req);
};

export function sessionClient(): Client<typeof SessionService> {
  return createClient(SessionService, createConnectTransport({ baseUrl: serverURL(), interceptors: [bearer] }));
}

export function chatClient(): Client<typeof ChatService> {
  return createClient(ChatService, createConnectTransport({ baseUrl: serverURL(), interceptors: [bearer] }));
}

// The names of the chats ListChats returns for a request (first page).
export async function chatNames(req: { sessionIds?: string[]; query?: string } = {}): Promise<string[]> {
  const res = await chatClient().listChats({ ...req, pageSize: 200 });
  return res.chats.map((c) => c.name);
}

// A run-unique suffix, so names never collide across specs.
export function uniq(): string {
  return randomBytes(4).toString("hex");
}

// A session the test pushes for, as a sidecar: its ID and a SyncService
// client whose every call carries the X-Chatsync-* signature headers.
export interface SidecarSession {
  session: Session;
  secret: string;
  sync: Client<typeof SyncService>;
}

export function signedSyncClient(sessionId: string, secret: string): Client<typeof SyncService> {
  return createClient(SyncService, createConnectTransport({ baseUrl: serverURL(), fetch: createSigningFetch({ sessionId, secret }) }));
}

export async function createSidecarSession(displayName: string, provider: Provider = Provider.WEBJS): Promise<SidecarSession> {
  const res = await sessionClient().createSession({ displayName, provider });
  if (!res.session || !res.sidecarSecret) throw new Error("CreateSession returned no session or secret");
  return { session: res.session, secret: res.sidecarSecret, sync: signedSyncClient(res.session.id, res.sidecarSecret) };
}

// The workspace's session with this display name, if any.
export async function sessionNamed(displayName: string): Promise<Session | undefined> {
  const res = await sessionClient().listSessions({ pageSize: 200 });
  return res.sessions.find((s) => s.displayName === displayName);
}

let seq = 0;
// A unique, valid German mobile number (49 151 and eight digits), so the
// server stores it as E.164.
export function mobileNumber(): string {
  seq = (seq + 1) % 1000;
  const n = (randomBytes(3).readUIntBE(0, 3) % 100_000) * 1000 + seq;
  return `49151${String(n).padStart(8, "0")}`;
}

// A private chat with one message.
export function privateChat(name: string, opts: { at?: number; text?: string; unread?: number; jidNumber?: string } = {}): SyncChat {
  const at = opts.at ?? Date.now();
  const number = opts.jidNumber ?? mobileNumber();
  return create(SyncChatSchema, {
    jid: `${number}@s.whatsapp.net`,
    type: ChatType.PRIVATE,
    name,
    unreadCount: opts.unread ?? 1,
    lastActivityTime: timestampFromMs(at),
    contact: { jid: `${number}@s.whatsapp.net`, phone: `+${number}`, pushName: name },
    messages: [
      {
        id: `m${uniq()}`.toUpperCase(),
        senderJid: `${number}@s.whatsapp.net`,
        timestamp: timestampFromMs(at),
        text: opts.text ?? `Hello from ${name}`,
      },
    ],
  });
}

// A group with n members (the first is its super admin, the second an admin).
export function groupChat(name: string, members: number, opts: { at?: number } = {}): SyncChat {
  const at = opts.at ?? Date.now();
  const gid = `120363${String(randomBytes(6).readUIntBE(0, 6)).padStart(15, "0").slice(0, 12)}`;
  const participants = Array.from({ length: members }, (_, i) => {
    const n = mobileNumber();
    return {
      jid: `${n}@s.whatsapp.net`,
      phone: `+${n}`,
      role: i === 0 ? ParticipantRole.SUPERADMIN : i === 1 ? ParticipantRole.ADMIN : ParticipantRole.MEMBER,
    };
  });
  return create(SyncChatSchema, {
    jid: `${gid}@g.us`,
    type: ChatType.GROUP,
    name,
    lastActivityTime: timestampFromMs(at),
    group: { subject: name, ownerJid: participants[0]?.jid ?? "", participants },
    messages: [
      {
        id: `g${uniq()}`.toUpperCase(),
        senderJid: participants[1]?.jid ?? "",
        timestamp: timestampFromMs(at),
        text: `Welcome to ${name}`,
      },
    ],
  });
}

// Pushes one signed SyncBatch and checks the server queued all of it.
export async function push(s: SidecarSession, chats: SyncChat[], kind: BatchKind = BatchKind.LIVE): Promise<void> {
  const batchId = `e2e-${uniq()}`;
  const res = await s.sync.syncBatch({ sessionId: s.session.id, batchId, kind, chats });
  if (res.status !== BatchStatus.QUEUED || res.acceptedCount !== chats.length || res.rejected.length > 0) {
    throw new Error(`SyncBatch ${batchId}: status ${BatchStatus[res.status]}, accepted ${res.acceptedCount}/${chats.length}, rejected ${JSON.stringify(res.rejected)}`);
  }
}

// A sidecar's command channel played by the test: it watches the session's
// commands (WatchCommands, signed) and completes each send with a new
// WhatsApp message ID. attached resolves once the server counts it as
// connected (its first heartbeat).
export interface FakeSidecar {
  attached: Promise<void>;
  sent: SendCommand[];
  stop(): void;
}

export function watchCommands(s: SidecarSession): FakeSidecar {
  const ac = new AbortController();
  const sent: SendCommand[] = [];
  let onAttached!: () => void;
  let onFailed!: (e: unknown) => void;
  const attached = new Promise<void>((ok, fail) => ((onAttached = ok), (onFailed = fail)));
  void (async () => {
    try {
      for await (const res of s.sync.watchCommands({ sessionId: s.session.id }, { signal: ac.signal })) {
        onAttached();
        const cmd = res.command;
        if (cmd?.command.case !== "send") continue;
        sent.push(cmd.command.value);
        const messageId = `3EB0${uniq()}${uniq()}`.toUpperCase();
        await s.sync.completeCommand({ sessionId: s.session.id, commandId: cmd.commandId, messageId });
      }
    } catch (e) {
      onFailed(e);
      if (!ac.signal.aborted) console.error("fake sidecar stopped:", e);
    }
  })();
  return { attached, sent, stop: () => ac.abort() };
}
