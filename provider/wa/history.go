package wa

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/proto/waWeb"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/chatsync/chatsync"
)

// DefaultHistoryBatchSize is the number of chats per history batch when the
// caller does not choose: small enough that one batch is a few chunked
// transactions, large enough that a full sync is not thousands of batches.
const DefaultHistoryBatchSize = 100

// batchByteBudget keeps a batch's JSON well under SyncBatch's 8 MiB limit, so
// the envelope and a different encoding (proto vs JSON) still fit.
const batchByteBudget = chatsync.MaxBatchBytes * 3 / 4

// Skipped is a conversation or contact the translation left out, and why.
// Reasons never contain message text.
type Skipped struct {
	JID    string `json:"jid"`
	Reason string `json:"reason"`
	// Messages is how many messages the conversation carried.
	Messages int `json:"messages,omitempty"`
}

// Skip reasons.
const (
	ReasonNotAChat     = "not a user or group chat"
	ReasonOutOfWindow  = "no activity within sync_window_days"
	ReasonOverMaxChats = "beyond max_chats"
)

// History is one history sync blob translated: chats newest first, within
// the sync window and cut to max_chats, and the contacts it carried (push
// names and LID↔phone mappings).
type History struct {
	Chats    []chatsync.ChatInput
	Contacts []chatsync.ContactInput
	Skipped  []Skipped
	// OldMessages counts the messages of kept chats left out for being
	// older than the sync window.
	OldMessages int
}

// HistorySyncBatches translates a history sync and splits it into payloads
// of at most batchSize chats (DefaultHistoryBatchSize when batchSize <= 0,
// at most chatsync.MaxBatchChats) that also stay under the byte limit.
// cfg.MaxChats applies to this blob alone; Session applies it across all
// blobs of a sync.
func HistorySyncBatches(evt *events.HistorySync, cfg chatsync.SyncConfig, now time.Time, batchSize int) ([]chatsync.BatchPayload, []Skipped) {
	h := TranslateHistorySync(evt, cfg, now)
	return SplitBatches(h.Chats, h.Contacts, batchSize), h.Skipped
}

// TranslateHistorySync turns each waHistorySync.Conversation into a
// ChatInput that passes ChatInput.Validate(now). Conversations with no
// activity in the last cfg.SyncWindowDays days are dropped, and so are
// messages older than the window; then only the cfg.MaxChats newest chats are
// kept (0 means no limit for both).
func TranslateHistorySync(evt *events.HistorySync, cfg chatsync.SyncConfig, now time.Time) History {
	var h History
	data := evt.Data
	alts := lidMappings(data)
	names := pushNames(data)
	var cutoff time.Time
	if cfg.SyncWindowDays > 0 {
		cutoff = now.Add(-time.Duration(cfg.SyncWindowDays) * 24 * time.Hour)
	}
	for _, conv := range data.GetConversations() {
		chat, old, reason := historyChat(conv, alts, names, cutoff, now)
		if reason != "" {
			h.Skipped = append(h.Skipped, Skipped{JID: conv.GetID(), Reason: reason, Messages: len(conv.GetMessages())})
			continue
		}
		h.OldMessages += old
		h.Chats = append(h.Chats, chat)
	}
	sortNewestFirst(h.Chats)
	if max := int(cfg.MaxChats); max > 0 && len(h.Chats) > max {
		for _, c := range h.Chats[max:] {
			h.Skipped = append(h.Skipped, Skipped{JID: c.JID, Reason: ReasonOverMaxChats, Messages: countMessages(c)})
		}
		h.Chats = h.Chats[:max]
	}
	h.Contacts, h.Skipped = historyContacts(data, alts, names, h.Skipped)
	return h
}

// sortNewestFirst orders chats by last activity, newest first, then by JID so
// equal times give the same order every time.
func sortNewestFirst(chats []chatsync.ChatInput) {
	slices.SortStableFunc(chats, func(a, b chatsync.ChatInput) int {
		if c := b.LastActivity.Compare(a.LastActivity); c != 0 {
			return c
		}
		return cmp.Compare(a.JID, b.JID)
	})
}

// lidMappings collects the LID↔phone pairs a history sync carries, in both
// directions: the top-level mapping list and each conversation's own
// pnJID/lidJID.
func lidMappings(data *waHistorySync.HistorySync) map[string]string {
	alts := make(map[string]string)
	put := func(a, b string) {
		pn, lid := bareJIDString(a), bareJIDString(b)
		if isPhone(pn) && isLID(lid) {
			alts[pn], alts[lid] = lid, pn
		}
	}
	for _, m := range data.GetPhoneNumberToLidMappings() {
		put(m.GetPnJID(), m.GetLidJID())
	}
	for _, conv := range data.GetConversations() {
		id := bareJIDString(conv.GetID())
		switch {
		case isLID(id):
			put(conv.GetPnJID(), id)
		case isPhone(id):
			put(id, conv.GetLidJID())
		}
	}
	return alts
}

func pushNames(data *waHistorySync.HistorySync) map[string]string {
	names := make(map[string]string)
	for _, p := range data.GetPushnames() {
		if j := bareJIDString(p.GetID()); j != "" && p.GetPushname() != "" {
			names[j] = cleanText(p.GetPushname(), maxPushNameBytes)
		}
	}
	return names
}

// historyMute is a conversation's mute end (seconds; 0 not muted, and a
// value past chatsync.MutedForever, such as -1 stored unsigned, forever).
func historyMute(end uint64) time.Time {
	switch {
	case end == 0:
		return time.Unix(0, 0).UTC()
	case end > uint64(chatsync.MutedForever.Unix()):
		return chatsync.MutedForever
	}
	return time.Unix(int64(end), 0).UTC()
}

// countMessages counts a chat's messages, its changes (edits, revokes,
// reactions) aside.
func countMessages(c chatsync.ChatInput) int {
	n := 0
	for _, m := range c.Messages {
		if !m.IsUpdate() {
			n++
		}
	}
	return n
}

// historyChat builds one chat, or returns why it is left out. old counts
// the messages left out for being older than the window.
func historyChat(conv *waHistorySync.Conversation, alts, names map[string]string, cutoff, now time.Time) (_ chatsync.ChatInput, old int, reason string) {
	raw := bareJIDString(conv.GetID())
	if raw == "" {
		return chatsync.ChatInput{}, 0, ReasonNotAChat
	}
	// A history conversation is the phone's view of the chat: its state is
	// reported whole (an absent field is WhatsApp's zero, not "unknown").
	// Marked unread is its own flag: the dot, with the count the phone has
	// (no invented one).
	unread := clampUnread(conv.GetUnreadCount())
	chat := chatsync.ChatInput{
		UnreadCount:  &unread,
		Archived:     new(conv.GetArchived()),
		Pinned:       new(conv.GetPinned() != 0), // pinned holds the time it was pinned
		MarkedUnread: new(conv.GetMarkedAsUnread()),
		MutedUntil:   new(historyMute(conv.GetMuteEndTime())),
	}
	name := conv.GetName()
	if name == "" {
		name = conv.GetDisplayName()
	}
	chat.Name = cleanText(name, maxNameBytes)
	if isGroup(raw) {
		chat.JID, chat.Type = raw, chatsync.ChatGroup
		chat.Group = &chatsync.GroupInput{
			Subject:      chat.Name,
			Description:  cleanText(conv.GetDescription(), maxDescriptionBytes),
			OwnerJID:     bareJIDString(conv.GetCreatedBy()),
			Participants: historyParticipants(conv.GetParticipant(), alts),
		}
	} else {
		jid, alt := preferPhone(raw, alts[raw])
		chat.JID, chat.Type = jid, chatsync.ChatPrivate
		chat.Contact = &chatsync.ContactInput{
			JID:      jid,
			AltJID:   alt,
			Phone:    phoneOfPair(jid, alt),
			PushName: cmp.Or(names[jid], names[alt]),
		}
	}
	chat.Messages, old = historyMessages(conv.GetMessages(), chat.JID, chat.Type == chatsync.ChatGroup, cutoff, now)
	chat.LastActivity = lastActivity(conv, chat.Messages, now)
	if !cutoff.IsZero() && (chat.LastActivity.IsZero() || chat.LastActivity.Before(cutoff)) {
		return chatsync.ChatInput{}, old, ReasonOutOfWindow
	}
	// Validated as the reports it will be sent in (a long chat is split
	// into several, see splitChat): Validate also normalises in place.
	msgs := chat.Messages
	for start := 0; start == 0 || start < len(msgs); start += chatsync.MaxChatMessages {
		chat.Messages = msgs[start:min(start+chatsync.MaxChatMessages, len(msgs))]
		if err := chat.Validate(now); err != nil {
			return chatsync.ChatInput{}, old, "invalid: " + err.Error()
		}
	}
	chat.Messages = msgs
	return chat, old, ""
}

func clampUnread(n uint32) int32 {
	if n > 1<<30 {
		return 1 << 30
	}
	return int32(n)
}

// lastActivity is the newest of the conversation's own timestamps and its
// newest kept message; implausible values are ignored.
func lastActivity(conv *waHistorySync.Conversation, msgs []chatsync.MessageInput, now time.Time) time.Time {
	var last time.Time
	for _, t := range []time.Time{
		unixSeconds(conv.GetConversationTimestamp()),
		unixSeconds(conv.GetLastMsgTimestamp()),
	} {
		if plausible(t, now) && t.After(last) {
			last = t
		}
	}
	for _, m := range msgs {
		if !m.IsUpdate() && m.Timestamp.After(last) {
			last = m.Timestamp
		}
	}
	return last
}

func historyParticipants(ps []*waHistorySync.GroupParticipant, alts map[string]string) []chatsync.ParticipantInput {
	out := make([]chatsync.ParticipantInput, 0, len(ps))
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		j := bareJIDString(p.GetUserJID())
		if j == "" || isGroup(j) || seen[j] {
			continue
		}
		seen[j] = true
		alt := altOf(j, alts[j])
		out = append(out, chatsync.ParticipantInput{
			JID:    j,
			AltJID: alt,
			Phone:  phoneOfPair(j, alt),
			Role:   rankRole(p.GetRank()),
		})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func rankRole(r waHistorySync.GroupParticipant_Rank) chatsync.Role {
	switch r {
	case waHistorySync.GroupParticipant_SUPERADMIN:
		return chatsync.RoleSuperAdmin
	case waHistorySync.GroupParticipant_ADMIN:
		return chatsync.RoleAdmin
	default:
		return chatsync.RoleMember
	}
}

// historyMessages keeps the messages a person sees, inside the window, oldest
// first, one per ID, then the changes they carry. All of them: a chat with
// more than a report holds (chatsync.MaxChatMessages) is split into several
// reports by SplitBatches, never cut.
func historyMessages(hms []*waHistorySync.HistorySyncMsg, chatJID string, group bool, cutoff, now time.Time) (_ []chatsync.MessageInput, old int) {
	byID := make(map[string]int, len(hms))
	var out, changes []chatsync.MessageInput
	for _, hm := range hms {
		m, ok, ups := webMessage(hm.GetMessage(), chatJID, group, now)
		if !cutoff.IsZero() && m.Timestamp.Before(cutoff) {
			if ok {
				old++
			}
			continue // the message, and what it carries, is out of the window
		}
		changes = append(changes, ups...)
		if !ok {
			continue
		}
		if i, dup := byID[m.ID]; dup {
			out[i] = m
			continue
		}
		byID[m.ID] = len(out)
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b chatsync.MessageInput) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	// Changes (edits, revokes, reactions) after the messages.
	return append(out, changes...), old
}

// webMessage translates one stored message the way whatsmeow's
// ParseWebMessage reads it, without needing a client. ok reports a message
// to store; changes are the edits, revokes and reactions it carries (a
// protocol or reaction message is only a change; a revoked message's stub
// is an empty message and its revoke; the phone's reactions to a message
// come with it).
func webMessage(wm *waWeb.WebMessageInfo, chatJID string, group bool, now time.Time) (m chatsync.MessageInput, ok bool, changes []chatsync.MessageInput) {
	key := wm.GetKey()
	id := key.GetID()
	ts := unixSeconds(wm.GetMessageTimestamp())
	if !validID(id) || !plausible(ts, now) {
		return chatsync.MessageInput{}, false, nil
	}
	m = chatsync.MessageInput{ID: id, FromMe: key.GetFromMe(), Timestamp: ts}
	switch {
	case m.FromMe:
		// Our own JID is not in the blob; from_me says who sent it.
	case group:
		m.SenderJID = cmp.Or(bareJIDString(wm.GetParticipant()), bareJIDString(key.GetParticipant()))
	default:
		m.SenderJID = chatJID
	}
	raw := unwrap(wm.GetMessage())
	if u, isChange := change(raw, ts, m.SenderJID, now); isChange {
		for i := range u.Reactions {
			if m.FromMe {
				u.Reactions[i].SenderJID = ""
			}
		}
		return m, false, []chatsync.MessageInput{u}
	}
	if wm.GetMessageStubType() == waWeb.WebMessageInfo_REVOKE {
		return m, true, []chatsync.MessageInput{{ID: id, Timestamp: ts, Revoked: true}}
	}
	text, media, ok := content(raw)
	if !ok {
		return m, false, nil
	}
	m.Text, m.MediaType = text, media
	if m.FromMe {
		m.Status = webStatus(wm.GetStatus())
	}
	if rs := historyReactions(wm.GetReactions(), chatJID, group, ts, now); len(rs) > 0 {
		changes = append(changes, chatsync.MessageInput{ID: id, Timestamp: ts, Reactions: rs})
	}
	return m, true, changes
}

// webStatus is how far a message from me got, as the phone stored it;
// unknown for errors and pending messages.
func webStatus(st waWeb.WebMessageInfo_Status) chatsync.MessageStatus {
	switch st {
	case waWeb.WebMessageInfo_SERVER_ACK:
		return chatsync.StatusSent
	case waWeb.WebMessageInfo_DELIVERY_ACK:
		return chatsync.StatusDelivered
	case waWeb.WebMessageInfo_READ:
		return chatsync.StatusRead
	case waWeb.WebMessageInfo_PLAYED:
		return chatsync.StatusPlayed
	}
	return chatsync.StatusUnknown
}

// historyReactions are the reactions the phone stored with a message, the
// newest per sender.
func historyReactions(in []*waWeb.Reaction, chatJID string, group bool, at, now time.Time) []chatsync.ReactionInput {
	var out []chatsync.ReactionInput
	bySender := map[string]int{}
	for _, r := range in {
		sender := ""
		switch {
		case r.GetKey().GetFromMe():
		case group:
			sender = bareJIDString(r.GetKey().GetParticipant())
			if sender == "" {
				continue
			}
		default:
			sender = chatJID
		}
		ri := chatsync.ReactionInput{SenderJID: sender, Emoji: cleanText(r.GetText(), chatsync.MaxReactionBytes), Timestamp: reactionTime(r.GetSenderTimestampMS(), at, now)}
		if i, ok := bySender[sender]; ok {
			if ri.Timestamp.After(out[i].Timestamp) {
				out[i] = ri
			}
			continue
		}
		bySender[sender] = len(out)
		out = append(out, ri)
	}
	return out
}

// historyContacts turns push names and LID↔phone mappings into contacts, one
// per person keyed on the phone JID when it is known, sorted by JID.
func historyContacts(data *waHistorySync.HistorySync, alts, names map[string]string, skipped []Skipped) ([]chatsync.ContactInput, []Skipped) {
	byJID := make(map[string]*chatsync.ContactInput)
	get := func(jid string) *chatsync.ContactInput {
		primary, alt := preferPhone(jid, alts[jid])
		c, ok := byJID[primary]
		if !ok {
			c = &chatsync.ContactInput{JID: primary, AltJID: alt, Phone: phoneOfPair(primary, alt)}
			byJID[primary] = c
		}
		return c
	}
	// Sorted, so that when a person has a push name under both JIDs the
	// same one wins every time.
	for _, jid := range slices.Sorted(maps.Keys(names)) {
		if !isGroup(jid) {
			get(jid).PushName = names[jid]
		}
	}
	for jid := range alts {
		if isPhone(jid) {
			get(jid)
		}
	}
	out := make([]chatsync.ContactInput, 0, len(byJID))
	for _, c := range byJID {
		if err := c.Validate("contact."); err != nil {
			skipped = append(skipped, Skipped{JID: c.JID, Reason: "invalid: " + err.Error()})
			continue
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b chatsync.ContactInput) int { return cmp.Compare(a.JID, b.JID) })
	if len(out) == 0 {
		return nil, skipped
	}
	return out, skipped
}

// SplitBatches packs contacts, then chats, into payloads of at most
// batchSize chats and chatsync.MaxBatchContacts contacts whose JSON stays
// under the byte budget. A chat too large on its own loses its oldest
// messages until it fits. Contacts come first so that LID↔phone mappings are
// in the earliest batch.
func SplitBatches(chats []chatsync.ChatInput, contacts []chatsync.ContactInput, batchSize int) []chatsync.BatchPayload {
	if batchSize <= 0 {
		batchSize = DefaultHistoryBatchSize
	}
	batchSize = min(batchSize, chatsync.MaxBatchChats)
	var (
		out   []chatsync.BatchPayload
		cur   chatsync.BatchPayload
		bytes int
	)
	flush := func() {
		if len(cur.Chats) > 0 || len(cur.Contacts) > 0 {
			out = append(out, cur)
		}
		cur, bytes = chatsync.BatchPayload{}, 0
	}
	for _, c := range contacts {
		n := jsonSize(c)
		if len(cur.Contacts) == chatsync.MaxBatchContacts || bytes+n > batchByteBudget {
			flush()
		}
		cur.Contacts = append(cur.Contacts, c)
		bytes += n
	}
	for _, whole := range chats {
		for _, c := range splitChat(whole) {
			n := jsonSize(c)
			if len(cur.Chats) == batchSize || bytes+n > batchByteBudget {
				flush()
			}
			cur.Chats = append(cur.Chats, c)
			bytes += n
		}
	}
	flush()
	return out
}

// splitChat makes a chat's reports: one when its messages fit a report
// (chatsync.MaxChatMessages, and the batch byte budget), else several,
// oldest messages first, none dropped. Every part carries the chat's state
// (set fields replace, so repeating them changes nothing, and a part
// without them would count its messages as unread); the group's metadata
// and members go with the first part only.
func splitChat(c chatsync.ChatInput) []chatsync.ChatInput {
	msgs := c.Messages
	c.Messages = nil
	base := jsonSize(c)
	if len(msgs) <= chatsync.MaxChatMessages && base+jsonSize(msgs) <= batchByteBudget {
		c.Messages = msgs
		return []chatsync.ChatInput{c}
	}
	rest := c
	rest.Group = nil
	var parts []chatsync.ChatInput
	part, n := c, base
	for _, m := range msgs {
		size := jsonSize(m)
		if len(part.Messages) > 0 && (len(part.Messages) == chatsync.MaxChatMessages || n+size > batchByteBudget) {
			parts = append(parts, part)
			part, n = rest, jsonSize(rest)
		}
		part.Messages = append(part.Messages, m)
		n += size
	}
	return append(parts, part)
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0 // plain structs of strings and times always marshal
	}
	return len(b) + 1 // and a comma
}
