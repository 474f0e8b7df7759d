package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the length of the at-rest encryption key: AES-256.
const KeySize = 32

// Sealer encrypts sensitive members at rest with AES-256-GCM. A sealed value is
// version byte (1) ‖ 12-byte random nonce ‖ ciphertext+tag; the additional data binds it to the
// row it belongs to, so a sealed value copied to another row does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// ParseKey decodes a key given as 64 hex digits or as standard base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	return nil, errors.New("encryption key must be 32 bytes, as 64 hex digits or base64")
}

// LoadKeyFile reads a key written by ParseKey's formats from a file.
func LoadKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read encryption key: %w", err)
	}
	return ParseKey(string(raw))
}

// EnsureKeyFile loads the key at path, creating it (0600, random) when the file does not exist.
// `fjord dev` keeps its key in its data directory this way.
func EnsureKeyFile(path string) ([]byte, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		key := make([]byte, KeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write encryption key: %w", err)
		}
		return key, nil
	}
	return LoadKeyFile(path)
}

const sealVersion = 1

// Seal encrypts plaintext bound to aad (the row's identity). nil stays nil.
func (s *Sealer) Seal(plaintext []byte, aad string) ([]byte, error) {
	if plaintext == nil {
		return nil, nil
	}
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[1:], plaintext, []byte(aad)), nil
}

// Open decrypts a value sealed with the same key and aad. nil stays nil.
func (s *Sealer) Open(sealed []byte, aad string) ([]byte, error) {
	if sealed == nil {
		return nil, nil
	}
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, errors.New("sealed value is malformed")
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(aad))
	if err != nil {
		return nil, errors.New("sealed value does not open with this key (wrong encryption key?)")
	}
	return pt, nil
}
