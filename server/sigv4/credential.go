package sigv4

import (
	"context"
	"errors"
)

// Credential is one access key known to Fjord, and the account it acts for.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// AccountID is the 12-digit AWS-style account the key belongs to; it
	// becomes the account of the ARNs the caller creates.
	AccountID string
}

// ErrUnknownKey is returned by a CredentialStore for an access key it does not
// hold. The verifier turns it into an UnrecognizedClientException; any other
// store error is passed on wrapped, as an internal failure.
var ErrUnknownKey = errors.New("sigv4: unknown access key")

// CredentialStore looks up the secret of an access key.
type CredentialStore interface {
	// Credential returns the credential for accessKeyID, or an error wrapping
	// ErrUnknownKey when there is none.
	Credential(ctx context.Context, accessKeyID string) (Credential, error)
}

// StaticStore is a fixed set of credentials keyed by access key ID, for
// development servers and tests.
type StaticStore map[string]Credential

// NewStaticStore returns a StaticStore holding creds.
func NewStaticStore(creds ...Credential) StaticStore {
	s := make(StaticStore, len(creds))
	for _, c := range creds {
		s[c.AccessKeyID] = c
	}
	return s
}

// Credential implements CredentialStore.
func (s StaticStore) Credential(_ context.Context, accessKeyID string) (Credential, error) {
	c, ok := s[accessKeyID]
	if !ok {
		return Credential{}, ErrUnknownKey
	}
	return c, nil
}
