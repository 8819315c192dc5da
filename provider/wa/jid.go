// Package wa is chatsync's in-process WhatsApp side: it turns whatsmeow's
// events into sync batches (the same chatsync.BatchPayload a sidecar sends
// through SyncBatch), drives pairing from whatsmeow's QR channel, and runs
// one whatsmeow client per session, reporting its status.
//
// The translation functions are pure: they take whatsmeow's real event types
// and return chats and contacts that pass chatsync's validation. The Session
// type owns a *whatsmeow.Client and hands batches and status changes to small
// consumer-side interfaces; connecting all sessions, backoff and leases are the
// supervisor's job, not this package's.
package wa

import (
	"strings"

	"go.mau.fi/whatsmeow/types"

	"github.com/chatsync/chatsync"
)

// bareJID returns j as chats and contacts are keyed: without device or agent,
// with hosted and legacy servers folded into the ones chatsync knows. It
// returns "" for everything that is not a phone user, a LID or a group
// (status broadcasts, newsletters, bots).
func bareJID(j types.JID) string {
	if j.User == "" {
		return ""
	}
	server := j.Server
	switch server {
	case types.HostedServer, types.LegacyUserServer:
		server = types.DefaultUserServer
	case types.HostedLIDServer:
		server = types.HiddenUserServer
	}
	p, err := chatsync.ParseJID(j.User + "@" + server)
	if err != nil {
		return ""
	}
	return p.Bare()
}

// bareJIDString is bareJID for a JID still in its string form, as
// waHistorySync and waSyncAction carry them.
func bareJIDString(s string) string {
	if s == "" {
		return ""
	}
	j, err := types.ParseJID(s)
	if err != nil {
		return ""
	}
	return bareJID(j)
}

func isLID(bare string) bool   { return strings.HasSuffix(bare, "@"+chatsync.ServerLID) }
func isPhone(bare string) bool { return strings.HasSuffix(bare, "@"+chatsync.ServerUser) }
func isGroup(bare string) bool { return strings.HasSuffix(bare, "@"+chatsync.ServerGroup) }

// altOf returns alt when it is the other kind of user JID than jid (a LID for
// a phone JID or the reverse), else "": ContactInput.AltJID must be exactly
// that.
func altOf(jid, alt string) string {
	if (isLID(jid) && isPhone(alt)) || (isPhone(jid) && isLID(alt)) {
		return alt
	}
	return ""
}

// phoneOf returns the E.164 number of a phone JID, "" for anything else. The
// user part of an s.whatsapp.net JID is the number without its "+".
func phoneOf(bare string) string {
	if !isPhone(bare) {
		return ""
	}
	return "+" + strings.TrimSuffix(bare, "@"+chatsync.ServerUser)
}

// phoneOfPair returns the phone number of whichever of the two JIDs is a
// phone JID.
func phoneOfPair(jid, alt string) string {
	if p := phoneOf(jid); p != "" {
		return p
	}
	return phoneOf(alt)
}

// preferPhone orders a user JID and its alternate so that the phone JID comes
// first when both are known. Private chats are keyed on the phone JID when it
// is known, so a chat does not split in two when WhatsApp moves a
// conversation from phone to LID addressing; the LID stays as the contact's
// AltJID and the store merges the two identities.
func preferPhone(jid, alt string) (primary, secondary string) {
	alt = altOf(jid, alt)
	if isLID(jid) && alt != "" {
		return alt, jid
	}
	return jid, alt
}
