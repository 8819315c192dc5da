package server

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chatsync/chatsync"
	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
)

// Conversions between proto messages and domain types. IDs are decimal
// strings on the wire.

func idString(id int64) string { return strconv.FormatInt(id, 10) }

// idStringOrEmpty is idString with 0 as "" (none).
func idStringOrEmpty(id int64) string {
	if id == 0 {
		return ""
	}
	return idString(id)
}

// parseID reads a decimal ID (protovalidate already checked the digits).
func parseID(field, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidArgument("%s: not an ID", field)
	}
	return id, nil
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

var providers = map[chatsync.Provider]chatsyncv1.Provider{
	chatsync.ProviderWhatsmeow: chatsyncv1.Provider_PROVIDER_WHATSMEOW,
	chatsync.ProviderWebJS:     chatsyncv1.Provider_PROVIDER_WEBJS,
	chatsync.ProviderMetaCloud: chatsyncv1.Provider_PROVIDER_META_CLOUD,
}

func providerToProto(p chatsync.Provider) chatsyncv1.Provider { return providers[p] }

func providerFromProto(p chatsyncv1.Provider) chatsync.Provider {
	for k, v := range providers {
		if v == p {
			return k
		}
	}
	return ""
}

var sessionStatuses = map[chatsync.SessionStatus]chatsyncv1.SessionStatus{
	chatsync.SessionPending:        chatsyncv1.SessionStatus_SESSION_STATUS_PENDING,
	chatsync.SessionPairing:        chatsyncv1.SessionStatus_SESSION_STATUS_PAIRING,
	chatsync.SessionConnected:      chatsyncv1.SessionStatus_SESSION_STATUS_CONNECTED,
	chatsync.SessionDisconnected:   chatsyncv1.SessionStatus_SESSION_STATUS_DISCONNECTED,
	chatsync.SessionLoggedOut:      chatsyncv1.SessionStatus_SESSION_STATUS_LOGGED_OUT,
	chatsync.SessionBanned:         chatsyncv1.SessionStatus_SESSION_STATUS_BANNED,
	chatsync.SessionStreamReplaced: chatsyncv1.SessionStatus_SESSION_STATUS_STREAM_REPLACED,
}

var syncStatuses = map[chatsync.SyncStatus]chatsyncv1.SyncStatus{
	chatsync.SyncPending: chatsyncv1.SyncStatus_SYNC_STATUS_PENDING,
	chatsync.SyncSyncing: chatsyncv1.SyncStatus_SYNC_STATUS_SYNCING,
	chatsync.SyncSynced:  chatsyncv1.SyncStatus_SYNC_STATUS_SYNCED,
	chatsync.SyncFailed:  chatsyncv1.SyncStatus_SYNC_STATUS_FAILED,
}

var batchStatuses = map[chatsync.BatchStatus]chatsyncv1.BatchStatus{
	chatsync.BatchQueued:     chatsyncv1.BatchStatus_BATCH_STATUS_QUEUED,
	chatsync.BatchProcessing: chatsyncv1.BatchStatus_BATCH_STATUS_PROCESSING,
	chatsync.BatchCompleted:  chatsyncv1.BatchStatus_BATCH_STATUS_COMPLETED,
	chatsync.BatchFailed:     chatsyncv1.BatchStatus_BATCH_STATUS_FAILED,
}

func batchKindToProto(k chatsync.BatchKind) chatsyncv1.BatchKind {
	switch k {
	case chatsync.BatchLive:
		return chatsyncv1.BatchKind_BATCH_KIND_LIVE
	case chatsync.BatchHistory:
		return chatsyncv1.BatchKind_BATCH_KIND_HISTORY
	}
	return chatsyncv1.BatchKind_BATCH_KIND_UNSPECIFIED
}

func batchKindFromProto(k chatsyncv1.BatchKind) chatsync.BatchKind {
	if k == chatsyncv1.BatchKind_BATCH_KIND_LIVE {
		return chatsync.BatchLive
	}
	return chatsync.BatchHistory
}

var chatTypes = map[chatsync.ChatType]chatsyncv1.ChatType{
	chatsync.ChatPrivate: chatsyncv1.ChatType_CHAT_TYPE_PRIVATE,
	chatsync.ChatGroup:   chatsyncv1.ChatType_CHAT_TYPE_GROUP,
}

func chatTypeFromProto(t chatsyncv1.ChatType) chatsync.ChatType {
	for k, v := range chatTypes {
		if v == t {
			return k
		}
	}
	return ""
}

var roles = map[chatsync.Role]chatsyncv1.ParticipantRole{
	chatsync.RoleMember:     chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_MEMBER,
	chatsync.RoleAdmin:      chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_ADMIN,
	chatsync.RoleSuperAdmin: chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_SUPERADMIN,
}

// roleFromProto maps a role; unspecified is a member, and a number the
// API does not define becomes a role Validate refuses (the chat is
// rejected, not stored with a guessed role).
func roleFromProto(r chatsyncv1.ParticipantRole) chatsync.Role {
	if r == chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_UNSPECIFIED {
		return chatsync.RoleMember
	}
	for k, v := range roles {
		if v == r {
			return k
		}
	}
	return chatsync.Role(fmt.Sprintf("unknown (%d)", r))
}

var mediaTypes = map[chatsync.MediaType]chatsyncv1.MediaType{
	chatsync.MediaNone:     chatsyncv1.MediaType_MEDIA_TYPE_UNSPECIFIED,
	chatsync.MediaImage:    chatsyncv1.MediaType_MEDIA_TYPE_IMAGE,
	chatsync.MediaVideo:    chatsyncv1.MediaType_MEDIA_TYPE_VIDEO,
	chatsync.MediaAudio:    chatsyncv1.MediaType_MEDIA_TYPE_AUDIO,
	chatsync.MediaDocument: chatsyncv1.MediaType_MEDIA_TYPE_DOCUMENT,
	chatsync.MediaSticker:  chatsyncv1.MediaType_MEDIA_TYPE_STICKER,
	chatsync.MediaLocation: chatsyncv1.MediaType_MEDIA_TYPE_LOCATION,
	chatsync.MediaContact:  chatsyncv1.MediaType_MEDIA_TYPE_CONTACT,
	chatsync.MediaOther:    chatsyncv1.MediaType_MEDIA_TYPE_OTHER,
}

// mediaFromProto maps a media type; a number the API does not define
// becomes a type Validate refuses, so the chat is rejected with the field
// named rather than stored as something else.
func mediaFromProto(m chatsyncv1.MediaType) chatsync.MediaType {
	for k, v := range mediaTypes {
		if v == m {
			return k
		}
	}
	return chatsync.MediaType(fmt.Sprintf("unknown (%d)", m))
}

var participantActions = map[chatsyncv1.ParticipantAction]chatsync.ParticipantAction{
	chatsyncv1.ParticipantAction_PARTICIPANT_ACTION_JOIN:    chatsync.ActionJoin,
	chatsyncv1.ParticipantAction_PARTICIPANT_ACTION_LEAVE:   chatsync.ActionLeave,
	chatsyncv1.ParticipantAction_PARTICIPANT_ACTION_PROMOTE: chatsync.ActionPromote,
	chatsyncv1.ParticipantAction_PARTICIPANT_ACTION_DEMOTE:  chatsync.ActionDemote,
}

func sessionToProto(s chatsync.Session) *chatsyncv1.Session {
	return &chatsyncv1.Session{
		Id: idString(s.ID), DisplayName: s.DisplayName, Provider: providerToProto(s.Provider),
		Status: sessionStatuses[s.Status], Jid: s.JID, PushName: s.PushName,
		SyncConfig: syncConfigToProto(s.SyncConfig),
		SyncStatus: syncStatuses[s.SyncStatus], LastSyncTime: ts(s.LastSyncAt), TotalSynced: s.TotalSynced,
		LastError: s.LastError, Backup: s.Backup, BanExpireTime: ts(s.BanExpireAt),
		CreateTime: ts(s.CreatedAt), UpdateTime: ts(s.UpdatedAt), MetaPhoneNumberId: s.MetaPhoneNumberID,
		Sidecar: sidecarStatusToProto(s.Sidecar),
	}
}

func syncConfigToProto(c chatsync.SyncConfig) *chatsyncv1.SyncConfig {
	return &chatsyncv1.SyncConfig{
		MaxChats: c.MaxChats, SyncWindowDays: c.SyncWindowDays, RatePerMinute: c.RatePerMinute, MessagesPerChat: c.MessagesPerChat,
	}
}

func syncConfigFromProto(c *chatsyncv1.SyncConfig) chatsync.SyncConfig {
	return chatsync.SyncConfig{
		MaxChats: c.GetMaxChats(), SyncWindowDays: c.GetSyncWindowDays(), RatePerMinute: c.GetRatePerMinute(), MessagesPerChat: c.GetMessagesPerChat(),
	}
}

var sidecarStates = map[chatsync.SidecarState]chatsyncv1.SidecarState{
	chatsync.SidecarStarting:      chatsyncv1.SidecarState_SIDECAR_STATE_STARTING,
	chatsync.SidecarQRWanted:      chatsyncv1.SidecarState_SIDECAR_STATE_QR_WANTED,
	chatsync.SidecarAuthenticated: chatsyncv1.SidecarState_SIDECAR_STATE_AUTHENTICATED,
	chatsync.SidecarReady:         chatsyncv1.SidecarState_SIDECAR_STATE_READY,
	chatsync.SidecarUnreachable:   chatsyncv1.SidecarState_SIDECAR_STATE_UNREACHABLE,
	chatsync.SidecarLoggedOut:     chatsyncv1.SidecarState_SIDECAR_STATE_LOGGED_OUT,
}

// sidecarStatusToProto is nil before a sidecar's first report.
func sidecarStatusToProto(s chatsync.SidecarStatus) *chatsyncv1.SidecarStatus {
	if s.State == "" {
		return nil
	}
	return &chatsyncv1.SidecarStatus{State: sidecarStates[s.State], LastError: s.LastError, ReportTime: ts(s.ReportedAt)}
}

func sidecarStateFromProto(st chatsyncv1.SidecarState) chatsync.SidecarState {
	for k, v := range sidecarStates {
		if v == st {
			return k
		}
	}
	return ""
}

func chatToProto(c chatsync.ChatView) *chatsyncv1.Chat {
	return &chatsyncv1.Chat{
		Id: idString(c.ID), SessionId: idString(c.SessionID), SessionName: c.SessionName, Provider: providerToProto(c.Provider),
		Jid: c.JID, Type: chatTypes[c.Type], Name: c.Name, Phone: c.Phone, ParticipantCount: c.ParticipantCount,
		UnreadCount: c.UnreadCount, LastActivityTime: ts(c.LastActivityAt), LastMessagePreview: c.LastMessagePreview,
		Archived: c.Archived, Pinned: c.Pinned, ContactName: c.ContactName, Description: c.Description,
		MutedUntil: ts(c.MutedUntil), MarkedUnread: c.MarkedUnread,
	}
}

func messageToProto(m chatsync.Message) *chatsyncv1.Message {
	out := &chatsyncv1.Message{
		Id: m.WAID, ChatId: idString(m.ChatID), SenderJid: m.SenderJID, FromMe: m.FromMe,
		Timestamp: ts(m.SentAt), Text: m.Text, MediaType: mediaTypes[m.MediaType], Waiting: m.Waiting,
		Revoked: m.Revoked, Status: chatsyncv1.MessageStatus(m.Status),
	}
	if m.EditTime != nil {
		out.EditTime = ts(*m.EditTime)
	}
	for _, r := range m.Reactions {
		out.Reactions = append(out.Reactions, &chatsyncv1.Reaction{SenderJid: r.SenderJID, Emoji: r.Emoji, Time: ts(r.Time)})
	}
	return out
}

func participantToProto(p chatsync.Participant) *chatsyncv1.Participant {
	return &chatsyncv1.Participant{Jid: p.JID, Phone: p.Phone, Role: roles[p.Role], Name: p.Name}
}

func batchToProto(b chatsync.Batch) *chatsyncv1.SyncBatch {
	out := &chatsyncv1.SyncBatch{
		BatchId: b.BatchID, SessionId: idString(b.SessionID), Kind: batchKindToProto(b.Kind), Status: batchStatuses[b.Status],
		AcceptedCount: b.AcceptedCount, WrittenCount: b.WrittenCount,
		Attempts: b.Attempts, LastError: b.LastError, CreateTime: ts(b.CreatedAt), StartTime: ts(b.StartedAt),
		FinishTime: ts(b.FinishedAt), Rejected: rejectedToProto(b.Rejected),
	}
	out.RejectedCount = int32(len(out.Rejected)) // chats only; rejected contacts are not chats
	if !b.FinishedAt.IsZero() {
		out.Duration = durationpb.New(b.FinishedAt.Sub(b.CreatedAt))
	}
	for _, f := range b.FailedChats {
		out.FailedChats = append(out.FailedChats, &chatsyncv1.FailedChat{Jid: f.JID, Reason: f.Reason})
	}
	return out
}

// rejectedToProto returns the rejected chats of rs.
func rejectedToProto(rs []chatsync.RejectedChat) []*chatsyncv1.RejectedChat {
	out := make([]*chatsyncv1.RejectedChat, 0, len(rs))
	for _, r := range rs {
		if !r.Contact {
			out = append(out, &chatsyncv1.RejectedChat{Index: r.Index, Jid: r.JID, Reason: r.Reason})
		}
	}
	return out
}

// rejectedContactsToProto returns the rejected contacts of rs.
func rejectedContactsToProto(rs []chatsync.RejectedChat) []*chatsyncv1.RejectedContact {
	var out []*chatsyncv1.RejectedContact
	for _, r := range rs {
		if r.Contact {
			out = append(out, &chatsyncv1.RejectedContact{Index: r.Index, Jid: r.JID, Reason: r.Reason})
		}
	}
	return out
}

func contactFromProto(c *chatsyncv1.SyncContact) *chatsync.ContactInput {
	if c == nil {
		return nil
	}
	return &chatsync.ContactInput{JID: c.GetJid(), Phone: c.GetPhone(), PushName: c.GetPushName(), FullName: c.GetFullName(), AltJID: c.GetAltJid()}
}

func chatFromProto(c *chatsyncv1.SyncChat) chatsync.ChatInput {
	in := chatsync.ChatInput{
		JID: c.GetJid(), Type: chatTypeFromProto(c.GetType()), Name: c.GetName(), Contact: contactFromProto(c.GetContact()),
		// Unset state fields stay nil: the stored state is kept.
		UnreadCount: c.UnreadCount, Archived: c.Archived, Pinned: c.Pinned, MarkedUnread: c.MarkedUnread,
	}
	if c.GetMutedUntil() != nil {
		in.MutedUntil = new(c.GetMutedUntil().AsTime())
	}
	if c.GetLastActivityTime() != nil {
		in.LastActivity = c.GetLastActivityTime().AsTime()
	}
	if g := c.GetGroup(); g != nil {
		gi := &chatsync.GroupInput{Subject: g.GetSubject(), Description: g.GetDescription(), OwnerJID: g.GetOwnerJid()}
		for _, p := range g.GetParticipants() {
			gi.Participants = append(gi.Participants, chatsync.ParticipantInput{JID: p.GetJid(), Phone: p.GetPhone(), Role: roleFromProto(p.GetRole()), AltJID: p.GetAltJid()})
		}
		for _, ch := range g.GetParticipantChanges() {
			gi.Changes = append(gi.Changes, chatsync.ParticipantChange{JID: ch.GetJid(), Action: participantActions[ch.GetAction()], Phone: ch.GetPhone()})
		}
		in.Group = gi
	}
	for _, m := range c.GetMessages() {
		mi := chatsync.MessageInput{ID: m.GetId(), SenderJID: m.GetSenderJid(), FromMe: m.GetFromMe(), Text: m.GetText(), MediaType: mediaFromProto(m.GetMediaType()), Waiting: m.GetWaiting(),
			Revoked: m.GetRevoked(), Status: chatsync.MessageStatus(m.GetStatus())}
		if m.GetTimestamp() != nil {
			mi.Timestamp = m.GetTimestamp().AsTime()
		}
		if m.GetEditTime() != nil {
			mi.EditTime = new(m.GetEditTime().AsTime())
		}
		for _, r := range m.GetReactions() {
			ri := chatsync.ReactionInput{SenderJID: r.GetSenderJid(), Emoji: r.GetEmoji()}
			if r.GetTimestamp() != nil {
				ri.Timestamp = r.GetTimestamp().AsTime()
			}
			mi.Reactions = append(mi.Reactions, ri)
		}
		in.Messages = append(in.Messages, mi)
	}
	return in
}

func eventToProto(ev chatsync.Event) *chatsyncv1.StreamChatUpdatesResponse {
	out := &chatsyncv1.StreamChatUpdatesResponse{EventId: ev.ID, EventTime: ts(ev.Time)}
	sid := idString(ev.SessionID)
	switch ev.Type {
	case chatsync.EventChatUpserted:
		if ev.Chat == nil {
			return nil
		}
		out.Event = &chatsyncv1.StreamChatUpdatesResponse_ChatUpserted{ChatUpserted: &chatsyncv1.ChatUpserted{Chat: chatToProto(*ev.Chat)}}
	case chatsync.EventMessageAdded:
		if ev.Message == nil {
			return nil
		}
		out.Event = &chatsyncv1.StreamChatUpdatesResponse_MessageAdded{MessageAdded: &chatsyncv1.MessageAdded{Message: messageToProto(*ev.Message), SessionId: sid}}
	case chatsync.EventMessageUpdated:
		if ev.Message == nil {
			return nil
		}
		out.Event = &chatsyncv1.StreamChatUpdatesResponse_MessageUpdated{MessageUpdated: &chatsyncv1.MessageUpdated{Message: messageToProto(*ev.Message), SessionId: sid}}
	case chatsync.EventChatRemoved:
		if ev.Removed == nil {
			return nil
		}
		out.Event = &chatsyncv1.StreamChatUpdatesResponse_ChatRemoved{ChatRemoved: &chatsyncv1.ChatRemoved{
			ChatId: idString(ev.Removed.ChatID), MergedInto: idStringOrEmpty(ev.Removed.MergedInto), SessionId: sid}}
	case chatsync.EventSessionStatus:
		if ev.Status == nil {
			return nil
		}
		out.Event = &chatsyncv1.StreamChatUpdatesResponse_SessionStatus{SessionStatus: &chatsyncv1.SessionStatusChanged{
			SessionId: sid, Status: sessionStatuses[ev.Status.Status], Reason: ev.Status.Reason}}
	case chatsync.EventSyncProgress:
		if ev.Progress == nil {
			return nil
		}
		p := ev.Progress
		out.Event = &chatsyncv1.StreamChatUpdatesResponse_SyncProgress{SyncProgress: &chatsyncv1.SyncProgress{
			SessionId: sid, BatchId: p.BatchID, Kind: batchKindToProto(p.Kind), WrittenCount: p.WrittenCount,
			FailedCount: p.FailedCount, TotalSynced: p.TotalSynced, PendingBatches: p.PendingBatches}}
	case chatsync.EventSyncFailed:
		if ev.Failure == nil {
			return nil
		}
		out.Event = &chatsyncv1.StreamChatUpdatesResponse_SyncFailed{SyncFailed: &chatsyncv1.SyncFailed{
			SessionId: sid, BatchId: ev.Failure.BatchID, Error: ev.Failure.Error, Attempts: ev.Failure.Attempts}}
	default:
		return nil
	}
	return out
}
