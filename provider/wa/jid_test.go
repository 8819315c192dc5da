package wa

import (
	"testing"

	"go.mau.fi/whatsmeow/proto/waHistorySync"
	"go.mau.fi/whatsmeow/types"
)

func TestBareJID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   types.JID
		want string
	}{
		{types.NewJID("15551230001", types.DefaultUserServer), "15551230001@s.whatsapp.net"},
		{types.JID{User: "15551230001", Device: 12, Server: types.DefaultUserServer}, "15551230001@s.whatsapp.net"},
		{types.JID{User: "111111111111111", RawAgent: 1, Device: 3, Server: types.HiddenUserServer}, "111111111111111@lid"},
		{types.NewJID("15551230001", types.HostedServer), "15551230001@s.whatsapp.net"},
		{types.NewJID("111111111111111", types.HostedLIDServer), "111111111111111@lid"},
		{types.NewJID("15551230001", types.LegacyUserServer), "15551230001@s.whatsapp.net"},
		{types.NewJID("120363000000000001", types.GroupServer), "120363000000000001@g.us"},
		{types.NewJID("15551230001-1600000000", types.GroupServer), "15551230001-1600000000@g.us"},
		{types.StatusBroadcastJID, ""},
		{types.NewJID("120363000000000077", types.NewsletterServer), ""},
		{types.NewMetaAIJID, ""},
		{types.GroupServerJID, ""},
		{types.EmptyJID, ""},
	}
	for _, tt := range tests {
		if got := bareJID(tt.in); got != tt.want {
			t.Errorf("bareJID(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for in, want := range map[string]string{
		"":                             "",
		"15551230001:3@s.whatsapp.net": "15551230001@s.whatsapp.net",
		"a.b.c@s.whatsapp.net":         "",
		"not a jid":                    "",
	} {
		if got := bareJIDString(in); got != want {
			t.Errorf("bareJIDString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJIDPairs(t *testing.T) {
	t.Parallel()
	const pn, lid, grp = "15551230001@s.whatsapp.net", "111111111111111@lid", "120363000000000001@g.us"
	tests := []struct {
		jid, alt             string
		wantPrimary, wantAlt string
		wantPhone            string
	}{
		{pn, lid, pn, lid, "+15551230001"},
		{lid, pn, pn, lid, "+15551230001"},
		{lid, "", lid, "", ""},
		{pn, "15551230002@s.whatsapp.net", pn, "", "+15551230001"}, // same kind: not an alternate
		{lid, grp, lid, "", ""},
	}
	for _, tt := range tests {
		p, a := preferPhone(tt.jid, tt.alt)
		if p != tt.wantPrimary || a != tt.wantAlt || phoneOfPair(p, a) != tt.wantPhone {
			t.Errorf("preferPhone(%q, %q) = %q, %q (phone %q); want %q, %q (%q)", tt.jid, tt.alt, p, a, phoneOfPair(p, a), tt.wantPrimary, tt.wantAlt, tt.wantPhone)
		}
	}
}

func TestHistoryMessagesKeepsOnePerID(t *testing.T) {
	t.Parallel()
	msgs, old := historyMessages([]*waHistorySync.HistorySyncMsg{
		webMsg("X1", false, "", ago(2*day), text("first copy")),
		webMsg("X1", false, "", ago(2*day), text("second copy")),
		webMsg("X2", false, "", ago(day), text("other")),
		webMsg("X0", false, "", ago(31*day), text("before the window")),
	}, "15551230001@s.whatsapp.net", false, testNow.Add(-30*day), testNow)
	if len(msgs) != 2 || msgs[0].ID != "X1" || msgs[0].Text != "second copy" {
		t.Errorf("got %+v, want X1 (last copy) and X2", msgs)
	}
	if old != 1 {
		t.Errorf("%d messages counted as older than the window, want 1", old)
	}
	if clampUnread(1<<31) != 1<<30 {
		t.Error("unread count not clamped")
	}
}
