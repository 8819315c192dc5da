package client_test

import (
	"flag"
	"testing"

	"github.com/chatsync/chatsync/client"
)

func TestProtocolText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    client.Protocol
		wantErr bool
	}{
		{in: "connect", want: client.ProtocolConnect},
		{in: "json", want: client.ProtocolConnectJSON},
		{in: "grpc", want: client.ProtocolGRPC},
		{in: "grpc-web", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			var p client.Protocol
			fs.TextVar(&p, "protocol", client.ProtocolConnect, "")
			err := fs.Parse([]string{"-protocol=" + tt.in})
			if (err != nil) != tt.wantErr {
				t.Fatalf("parse %q: err = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if p != tt.want {
				t.Errorf("parsed %q as %v, want %v", tt.in, p, tt.want)
			}
			if b, _ := p.MarshalText(); string(b) != tt.in {
				t.Errorf("MarshalText = %q, want %q", b, tt.in)
			}
		})
	}
	if s := client.Protocol(9).String(); s != "Protocol(9)" {
		t.Errorf("String of an unknown protocol = %q", s)
	}
}
