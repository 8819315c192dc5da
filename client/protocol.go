package client

import (
	"fmt"

	"connectrpc.com/connect"
)

// Protocol is the wire protocol a Client speaks. Its text form ("connect",
// "json", "grpc") suits flags; it implements encoding.TextUnmarshaler.
type Protocol int

// Protocols.
const (
	// ProtocolConnect is Connect with binary protobuf, the default.
	ProtocolConnect Protocol = iota
	// ProtocolConnectJSON is Connect with protobuf JSON, as curl and the
	// Node sidecar speak it.
	ProtocolConnectJSON
	// ProtocolGRPC is gRPC over HTTP/2.
	ProtocolGRPC
)

// String names the protocol as ParseProtocol reads it.
func (p Protocol) String() string {
	switch p {
	case ProtocolConnect:
		return "connect"
	case ProtocolConnectJSON:
		return "json"
	case ProtocolGRPC:
		return "grpc"
	default:
		return fmt.Sprintf("Protocol(%d)", int(p))
	}
}

// ParseProtocol reads "connect", "json" or "grpc".
func ParseProtocol(s string) (Protocol, error) {
	for _, p := range []Protocol{ProtocolConnect, ProtocolConnectJSON, ProtocolGRPC} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("protocol %q: want connect, json or grpc", s)
}

// MarshalText implements encoding.TextMarshaler.
func (p Protocol) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, so a Protocol can be a
// flag (flag.TextVar).
func (p *Protocol) UnmarshalText(b []byte) error {
	v, err := ParseProtocol(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func (p Protocol) clientOptions() []connect.ClientOption {
	switch p {
	case ProtocolConnectJSON:
		return []connect.ClientOption{connect.WithProtoJSON()}
	case ProtocolGRPC:
		return []connect.ClientOption{connect.WithGRPC()}
	default:
		return nil
	}
}
