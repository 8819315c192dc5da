package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Keys derives chatsync's secrets from one master key
// (CHATSYNC_SECRET_KEY): sidecar secrets, the seal of stored provider
// tokens, and page-token MACs. The database alone reveals none of them.
type Keys struct {
	sidecar []byte
	seal    cipher.AEAD
	page    []byte
}

// NewKeys derives the keys from a master key of at least 32 bytes.
func NewKeys(master []byte) (Keys, error) {
	if len(master) < 32 {
		return Keys{}, errors.New("secret key must be at least 32 bytes")
	}
	sub := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("chatsync:" + label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(sub("seal"))
	if err != nil {
		return Keys{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Keys{}, err
	}
	return Keys{sidecar: sub("sidecar"), seal: aead, page: sub("page")}, nil
}

// NewNonce returns a fresh secret nonce for a session.
func NewNonce() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// SidecarSecret derives a session's sidecar secret from its ID and nonce:
// 64 lowercase hex characters, whose UTF-8 bytes are the HMAC key sidecars
// sign with. Rotating the nonce rotates the secret.
func (k Keys) SidecarSecret(sessionID int64, nonce []byte) string {
	m := hmac.New(sha256.New, k.sidecar)
	m.Write([]byte(strconv.FormatInt(sessionID, 10)))
	m.Write([]byte{0})
	m.Write(nonce)
	return hex.EncodeToString(m.Sum(nil))
}

// Seal encrypts a value for storage (AES-GCM).
func (k Keys) Seal(plain []byte) []byte {
	nonce := make([]byte, k.seal.NonceSize())
	_, _ = rand.Read(nonce)
	return k.seal.Seal(nonce, nonce, plain, nil)
}

// Open decrypts a value sealed by Seal.
func (k Keys) Open(sealed []byte) ([]byte, error) {
	n := k.seal.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	plain, err := k.seal.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", err)
	}
	return plain, nil
}
