package chatsync

import (
	"errors"
	"strings"
)

// WhatsApp JID servers chatsync understands.
const (
	ServerUser  = "s.whatsapp.net" // a phone-number account
	ServerLID   = "lid"            // a hidden-identity (LID) account
	ServerGroup = "g.us"           // a group
)

// JID is a parsed WhatsApp address, "<user>@<server>", where a user JID may
// carry a device suffix ("15551234567:12@s.whatsapp.net").
type JID struct {
	User   string
	Device string
	Server string
}

// ParseJID parses and checks a WhatsApp JID of the kinds chats and contacts
// use: phone users, LIDs and groups.
func ParseJID(s string) (JID, error) {
	if len(s) > 128 {
		return JID{}, errors.New("longer than 128 characters")
	}
	user, server, ok := strings.Cut(s, "@")
	if !ok || user == "" {
		return JID{}, errors.New("not a WhatsApp JID (want user@server)")
	}
	var j JID
	j.Server = server
	switch server {
	case ServerUser, ServerLID:
		u, dev, hasDev := strings.Cut(user, ":")
		if hasDev && !allDigits(dev) {
			return JID{}, errors.New("device part is not a number")
		}
		if !allDigits(u) || len(u) > 20 {
			return JID{}, errors.New("user part is not 1-20 digits")
		}
		j.User, j.Device = u, dev
	case ServerGroup:
		// Old groups are "<creator phone>-<unix time>", new ones all digits.
		a, b, dash := strings.Cut(user, "-")
		if !allDigits(a) || (dash && !allDigits(b)) || len(user) > 40 {
			return JID{}, errors.New("group part is not digits or digits-digits")
		}
		j.User = user
	default:
		return JID{}, errors.New("server is not s.whatsapp.net, lid or g.us")
	}
	return j, nil
}

// String formats the JID back, with its device part.
func (j JID) String() string {
	if j.Device != "" {
		return j.User + ":" + j.Device + "@" + j.Server
	}
	return j.User + "@" + j.Server
}

// Bare is the JID without the device part, as chats and contacts are keyed.
func (j JID) Bare() string { return j.User + "@" + j.Server }

// IsGroup reports whether the JID is a group's.
func (j JID) IsGroup() bool { return j.Server == ServerGroup }

// IsLID reports whether the JID is a hidden-identity (LID) user.
func (j JID) IsLID() bool { return j.Server == ServerLID }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
