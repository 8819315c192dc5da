package simulate

import (
	"fmt"
	"math/rand/v2"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	chatsyncv1 "github.com/chatsync/chatsync/gen/chatsync/v1"
)

// generator makes chat i the same way every time for the same Params, so a
// rerun with the same run ID sends identical batches (and the server
// answers duplicate) whatever the concurrency.
type generator struct {
	p Params
}

// texts and mediaTypes are functions, not package variables: no globals.
func texts() [15]string {
	return [...]string{
		"ok", "see you tomorrow", "👍", "can you send the file?", "on my way",
		"meeting moved to 3pm", "thanks!", "haha", "where are you?", "call me when you can",
		"Grüße aus Berlin", "¿Dónde estás?", "किधर हो?", "the invoice is attached", "lunch?",
	}
}

func mediaTypes() [5]chatsyncv1.MediaType {
	return [...]chatsyncv1.MediaType{
		chatsyncv1.MediaType_MEDIA_TYPE_IMAGE, chatsyncv1.MediaType_MEDIA_TYPE_VIDEO,
		chatsyncv1.MediaType_MEDIA_TYPE_AUDIO, chatsyncv1.MediaType_MEDIA_TYPE_DOCUMENT,
		chatsyncv1.MediaType_MEDIA_TYPE_STICKER,
	}
}

// isGroup says whether chat i is a group: every GroupEvery-th chat.
func (g generator) isGroup(i int) bool {
	return g.p.GroupEvery > 0 && i%g.p.GroupEvery == g.p.GroupEvery-1
}

// phoneJID is the i-th synthetic person, +1 555 xxx xxxx.
func phoneJID(i int) string { return fmt.Sprintf("1555%07d@s.whatsapp.net", i%10_000_000) }

func groupJID(i int) string { return fmt.Sprintf("120363%012d@g.us", i) }

func (g generator) rng(i int, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(g.p.Seed), uint64(i)<<8|salt))
}

// chat builds chat i with its messages, group metadata and participants.
func (g generator) chat(i int) *chatsyncv1.SyncChat {
	r := g.rng(i, 1)
	// Newest chats first in index order: chat 0 was active most recently.
	last := g.p.Start.Add(-time.Duration(i) * time.Minute)
	c := &chatsyncv1.SyncChat{
		UnreadCount:      new(int32(r.IntN(4))),
		Archived:         new(r.IntN(20) == 0),
		Pinned:           new(i < 3),
		LastActivityTime: timestamppb.New(last),
	}
	var senders []string
	if g.isGroup(i) {
		c.Jid = groupJID(i)
		c.Type = chatsyncv1.ChatType_CHAT_TYPE_GROUP
		c.Name = new(fmt.Sprintf("Group %d", i))
		c.Group = g.group(i, r)
		for _, p := range c.Group.GetParticipants() {
			senders = append(senders, p.GetJid())
		}
	} else {
		c.Jid = phoneJID(i)
		c.Type = chatsyncv1.ChatType_CHAT_TYPE_PRIVATE
		c.Name = new(fmt.Sprintf("Person %d", i))
		c.Contact = &chatsyncv1.SyncContact{Phone: "+" + c.GetJid()[:11], PushName: c.GetName()}
	}
	for j := range g.p.Messages {
		c.Messages = append(c.Messages, g.message(i, j, r, last.Add(-time.Duration(j)*time.Second), senders))
	}
	return c
}

func (g generator) group(i int, r *rand.Rand) *chatsyncv1.SyncGroup {
	grp := &chatsyncv1.SyncGroup{Subject: fmt.Sprintf("Group %d", i), Description: "synthetic group"}
	for k := range g.p.Participants {
		// Members are drawn from the people of the private chats, so groups
		// and private chats share contacts as they do on a real phone.
		jid := phoneJID(i*31 + k*7919)
		role := chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_MEMBER
		switch {
		case k == 0:
			role = chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_SUPERADMIN
			grp.OwnerJid = jid
		case r.IntN(5) == 0:
			role = chatsyncv1.ParticipantRole_PARTICIPANT_ROLE_ADMIN
		}
		grp.Participants = append(grp.Participants, &chatsyncv1.SyncParticipant{Jid: jid, Phone: "+" + jid[:11], Role: role})
	}
	return grp
}

func (g generator) message(i, j int, r *rand.Rand, at time.Time, senders []string) *chatsyncv1.SyncMessage {
	m := &chatsyncv1.SyncMessage{
		Id:        fmt.Sprintf("3EB0%08X%08X", uint32(i), uint32(j)),
		Timestamp: timestamppb.New(at),
		Text:      text(r),
	}
	switch {
	case len(senders) > 0:
		m.SenderJid = senders[r.IntN(len(senders))]
	case r.IntN(3) == 0:
		m.FromMe = true
	default:
		m.SenderJid = phoneJID(i)
	}
	if r.IntN(10) == 0 {
		m.MediaType = mediaType(r)
	}
	return m
}

// historyBatch is batch k of the history phase.
func (g generator) historyBatch(k int) *chatsyncv1.SyncBatchRequest {
	lo := k * g.p.BatchSize
	hi := min(lo+g.p.BatchSize, g.p.Chats)
	req := &chatsyncv1.SyncBatchRequest{
		SessionId: g.p.SessionID,
		BatchId:   fmt.Sprintf("sim-%s-h%06d", g.p.RunID, k),
		Kind:      chatsyncv1.BatchKind_BATCH_KIND_HISTORY,
		Chats:     make([]*chatsyncv1.SyncChat, 0, hi-lo),
	}
	for i := lo; i < hi; i++ {
		req.Chats = append(req.Chats, g.chat(i))
	}
	return req
}

// liveChat is live message n: one new message in one chat, as the Node
// sidecar reports on client.on('message'), groups with their participants.
func (g generator) liveChat(n int, at time.Time) *chatsyncv1.SyncChat {
	i := (n * 7919) % g.p.Chats
	c := g.chat(i)
	r := g.rng(n, 2)
	var senders []string
	for _, p := range c.GetGroup().GetParticipants() {
		senders = append(senders, p.GetJid())
	}
	msg := g.message(i, g.p.Messages+n, r, at, senders)
	msg.Id = fmt.Sprintf("3EB1%08X%08X", uint32(i), uint32(n))
	c.Messages = []*chatsyncv1.SyncMessage{msg}
	c.LastActivityTime = timestamppb.New(at)
	// A live message knows nothing of the chat's state: the server keeps
	// the stored state and counts the message as unread.
	c.UnreadCount, c.Archived, c.Pinned = nil, nil, nil
	return c
}

func text(r *rand.Rand) string {
	ts := texts()
	return ts[r.IntN(len(ts))]
}

func mediaType(r *rand.Rand) chatsyncv1.MediaType {
	ms := mediaTypes()
	return ms[r.IntN(len(ms))]
}
