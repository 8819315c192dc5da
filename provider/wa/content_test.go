package wa

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"github.com/chatsync/chatsync"
)

func TestContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		msg       *waE2E.Message
		wantText  string
		wantMedia chatsync.MediaType
		wantOK    bool
	}{
		{"nil", nil, "", chatsync.MediaNone, false},
		{"empty", &waE2E.Message{}, "", chatsync.MediaNone, false},
		{"empty conversation", &waE2E.Message{Conversation: proto.String("")}, "", chatsync.MediaNone, false},
		{"conversation", text("hello"), "hello", chatsync.MediaNone, true},
		{"extended text", &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("a link")}}, "a link", chatsync.MediaNone, true},
		{"image", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("cap")}}, "cap", chatsync.MediaImage, true},
		{"video", &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Caption: proto.String("clip")}}, "clip", chatsync.MediaVideo, true},
		{"video note", &waE2E.Message{PtvMessage: &waE2E.VideoMessage{}}, "", chatsync.MediaVideo, true},
		{"audio", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true)}}, "", chatsync.MediaAudio, true},
		{"document", &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String("q3"), FileName: proto.String("q3.pdf")}}, "q3", chatsync.MediaDocument, true},
		{"sticker", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}, "", chatsync.MediaSticker, true},
		{"location", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{Comment: proto.String("here")}}, "here", chatsync.MediaLocation, true},
		{"live location", &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{Caption: proto.String("moving")}}, "moving", chatsync.MediaLocation, true},
		{"contact card", &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Dan")}}, "Dan", chatsync.MediaContact, true},
		{"contact cards", &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{DisplayName: proto.String("2 contacts")}}, "2 contacts", chatsync.MediaContact, true},
		{"poll", &waE2E.Message{PollCreationMessageV3: &waE2E.PollCreationMessage{Name: proto.String("Lunch?")}}, "Lunch?", chatsync.MediaOther, true},
		{"group invite", &waE2E.Message{GroupInviteMessage: &waE2E.GroupInviteMessage{}}, "", chatsync.MediaOther, true},
		{"reaction", &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}}, "", chatsync.MediaNone, false},
		{"poll vote", &waE2E.Message{PollUpdateMessage: &waE2E.PollUpdateMessage{}}, "", chatsync.MediaNone, false},
		{"protocol", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{}}, "", chatsync.MediaNone, false},
		{"key share only", &waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{}, MessageContextInfo: &waE2E.MessageContextInfo{}}, "", chatsync.MediaNone, false},
		{"text with key share", &waE2E.Message{Conversation: proto.String("hi"), SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{}}, "hi", chatsync.MediaNone, true},
		{"invalid utf-8", text("caf\xe9"), "caf\uFFFD", chatsync.MediaNone, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gotText, gotMedia, gotOK := content(tt.msg)
			if gotText != tt.wantText || gotMedia != tt.wantMedia || gotOK != tt.wantOK {
				t.Errorf("content() = %q, %q, %v; want %q, %q, %v", gotText, gotMedia, gotOK, tt.wantText, tt.wantMedia, tt.wantOK)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "abc", 10, "abc"},
		{"cut", "abcdef", 3, "abc"},
		{"cut before a multi-byte rune", "ab€", 4, "ab"},
		{"invalid", "a\xffb", 10, "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := cleanText(tt.in, tt.max); got != tt.want {
				t.Errorf("cleanText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

// A caption over the text limit is cut to it, on a character boundary
// (FuzzContent keeps to small inputs; this is the large case).
func TestContentCutsLongText(t *testing.T) {
	m := &waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String(strings.Repeat("€", 30000))}}}}
	txt, media, ok := content(unwrap(m))
	if !ok || media != chatsync.MediaDocument || len(txt) > chatsync.MaxTextBytes || len(txt) < chatsync.MaxTextBytes-3 || !utf8.ValidString(txt) {
		t.Fatalf("content = %d bytes (valid UTF-8 %v), %q, %v", len(txt), utf8.ValidString(txt), media, ok)
	}
}

// maxFuzzInput bounds FuzzContent's inputs: the fuzzer minimises every
// new interesting input byte by byte, and one of tens of kilobytes took it
// minutes (241 executions in 60 s), so it fuzzed nothing.
const maxFuzzInput = 1 << 10

// FuzzContent feeds arbitrary waE2E.Message bytes through the text and media
// extraction and a live message translation: nothing panics, the text is
// valid UTF-8 within the limit, and a translated chat validates.
func FuzzContent(f *testing.F) {
	for _, m := range []*waE2E.Message{
		text("hello"),
		{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("cap")}},
		{EphemeralMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String(strings.Repeat("€", 300))}}}},
		{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("x")}},
		{PollCreationMessage: &waE2E.PollCreationMessage{Name: proto.String("\xff")}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzInput {
			return
		}
		var m waE2E.Message
		if err := proto.Unmarshal(b, &m); err != nil {
			return
		}
		txt, media, ok := content(unwrap(&m))
		if !utf8.ValidString(txt) || len(txt) > chatsync.MaxTextBytes {
			t.Fatalf("text of %d bytes, valid UTF-8 %v", len(txt), utf8.ValidString(txt))
		}
		if !ok && (txt != "" || media != chatsync.MediaNone) {
			t.Fatalf("not ok but text %q media %q", txt, media)
		}
		e := groupTextMessage(t)
		e.Message, e.RawMessage = nil, &m
		p, err := MessageBatch(e, nil, testNow)
		if err != nil {
			return
		}
		assertValid(t, p)
	})
}
