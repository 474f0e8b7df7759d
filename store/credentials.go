package store

import (
	"context"
)

// Credential is an access key that may sign API requests, and the account it acts for.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	AccountID       string
}

// CredentialPut inserts or replaces a credential (the secret is sealed at rest).
func (s *Store) CredentialPut(ctx context.Context, c Credential) error {
	sealed, err := s.sealer.Seal([]byte(c.SecretAccessKey), "credentials:"+c.AccessKeyID)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO credentials (access_key_id, secret_sealed, account_id) VALUES ($1,$2,$3)
		ON CONFLICT (access_key_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, account_id = EXCLUDED.account_id`,
		c.AccessKeyID, sealed, c.AccountID)
	return interpret(err)
}

// Credential returns the credential of an access key, or ErrNotFound.
func (s *Store) Credential(ctx context.Context, accessKeyID string) (Credential, error) {
	var c Credential
	var sealed []byte
	if err := s.pool.QueryRow(ctx, `SELECT access_key_id, secret_sealed, account_id FROM credentials WHERE access_key_id = $1`,
		accessKeyID).Scan(&c.AccessKeyID, &sealed, &c.AccountID); err != nil {
		return Credential{}, interpret(err)
	}
	secret, err := s.sealer.Open(sealed, "credentials:"+c.AccessKeyID)
	if err != nil {
		return Credential{}, err
	}
	c.SecretAccessKey = string(secret)
	return c, nil
}
