import { ChatType, MediaType, ParticipantRole } from "../gen/chatsync/v1/chat_pb";
import { Provider, SessionStatus, SidecarState, SyncStatus } from "../gen/chatsync/v1/session_pb";

// The provider badge text (issue 6: "Meta API", "Web.js", "whatsmeow").
export function providerLabel(p: Provider): string {
  switch (p) {
    case Provider.META_CLOUD:
      return "Meta API";
    case Provider.WEBJS:
      return "Web.js";
    case Provider.WHATSMEOW:
      return "whatsmeow";
    default:
      return "Unknown provider";
  }
}

// A CSS modifier per provider, so each badge gets its own colour.
export function providerClass(p: Provider): string {
  switch (p) {
    case Provider.META_CLOUD:
      return "provider-meta";
    case Provider.WEBJS:
      return "provider-webjs";
    case Provider.WHATSMEOW:
      return "provider-whatsmeow";
    default:
      return "provider-unknown";
  }
}

export const creatableProviders: readonly Provider[] = [Provider.WHATSMEOW, Provider.WEBJS, Provider.META_CLOUD];

// sessionStatusLabel names a status; pending means something else per
// provider (a whatsmeow session is not paired, a sidecar never attached).
export function sessionStatusLabel(s: SessionStatus, provider?: Provider): string {
  switch (s) {
    case SessionStatus.PENDING:
      if (provider === Provider.WEBJS) return "Waiting for sidecar";
      if (provider === Provider.META_CLOUD) return "Not connected";
      return "Not paired";
    case SessionStatus.PAIRING:
      return "Pairing";
    case SessionStatus.CONNECTED:
      return "Connected";
    case SessionStatus.DISCONNECTED:
      return "Disconnected";
    case SessionStatus.LOGGED_OUT:
      return "Logged out";
    case SessionStatus.BANNED:
      return "Banned";
    case SessionStatus.STREAM_REPLACED:
      return "Replaced by another client";
    default:
      return "Unknown";
  }
}

// sidecarStateLabel says what a sidecar last reported of its WhatsApp
// client.
export function sidecarStateLabel(s: SidecarState): string {
  switch (s) {
    case SidecarState.STARTING:
      return "Sidecar starting";
    case SidecarState.QR_WANTED:
      return "Sidecar shows a QR code to scan";
    case SidecarState.AUTHENTICATED:
      return "Sidecar loading chats";
    case SidecarState.READY:
      return "Sidecar ready";
    case SidecarState.UNREACHABLE:
      return "Sidecar cannot reach WhatsApp";
    case SidecarState.LOGGED_OUT:
      return "Sidecar logged out: scan a new QR code";
    default:
      return "Sidecar state unknown";
  }
}

// good / warn / bad / neutral, for the status pill colour.
export function sessionStatusTone(s: SessionStatus): "good" | "warn" | "bad" | "neutral" {
  switch (s) {
    case SessionStatus.CONNECTED:
      return "good";
    case SessionStatus.PAIRING:
    case SessionStatus.DISCONNECTED:
      return "warn";
    case SessionStatus.LOGGED_OUT:
    case SessionStatus.BANNED:
    case SessionStatus.STREAM_REPLACED:
      return "bad";
    default:
      return "neutral";
  }
}

export function syncStatusLabel(s: SyncStatus): string {
  switch (s) {
    case SyncStatus.PENDING:
      return "Not synced yet";
    case SyncStatus.SYNCING:
      return "Syncing";
    case SyncStatus.SYNCED:
      return "Synced";
    case SyncStatus.FAILED:
      return "Failed";
    default:
      return "Unknown";
  }
}

export function syncStatusTone(s: SyncStatus): "good" | "warn" | "bad" | "neutral" {
  switch (s) {
    case SyncStatus.SYNCED:
      return "good";
    case SyncStatus.SYNCING:
      return "warn";
    case SyncStatus.FAILED:
      return "bad";
    default:
      return "neutral";
  }
}

export function roleLabel(r: ParticipantRole): string {
  switch (r) {
    case ParticipantRole.SUPERADMIN:
      return "Owner";
    case ParticipantRole.ADMIN:
      return "Admin";
    default:
      return "Member";
  }
}

export function chatTypeLabel(t: ChatType): string {
  switch (t) {
    case ChatType.PRIVATE:
      return "Private";
    case ChatType.GROUP:
      return "Group";
    default:
      return "All types";
  }
}

// "" for plain text; else a short tag shown before the caption.
export function mediaLabel(m: MediaType): string {
  switch (m) {
    case MediaType.IMAGE:
      return "Photo";
    case MediaType.VIDEO:
      return "Video";
    case MediaType.AUDIO:
      return "Audio";
    case MediaType.DOCUMENT:
      return "Document";
    case MediaType.STICKER:
      return "Sticker";
    case MediaType.LOCATION:
      return "Location";
    case MediaType.CONTACT:
      return "Contact card";
    case MediaType.OTHER:
      return "Attachment";
    default:
      return "";
  }
}
