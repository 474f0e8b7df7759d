package store

import (
	"context"
	"crypto/subtle"
	"slices"

	"github.com/jackc/pgx/v5"
)

// NotifyCredentials is the LISTEN/NOTIFY channel on which a change to the credentials table is
// announced (empty payload): every replica then forgets the credentials it has cached.
const NotifyCredentials = "fjord_credentials"

// Credential is an access key that may sign API requests, and the account it acts for.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	AccountID       string
}

// CredentialPut inserts or replaces a credential (the secret is sealed at rest) and announces
// the change on NotifyCredentials.
func (s *Store) CredentialPut(ctx context.Context, c Credential) error {
	sealed, err := s.sealer.Seal([]byte(c.SecretAccessKey), "credentials:"+c.AccessKeyID)
	if err != nil {
		return err
	}
	return interpret(s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO credentials (access_key_id, secret_sealed, account_id) VALUES ($1,$2,$3)
			ON CONFLICT (access_key_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, account_id = EXCLUDED.account_id`,
			c.AccessKeyID, sealed, c.AccountID); err != nil {
			return err
		}
		return s.notifyTx(ctx, tx, NotifyCredentials, "")
	}))
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

// CredentialChanges says which access keys a CredentialsSync added, removed or updated (a new
// secret or account). It names keys only, never secrets.
type CredentialChanges struct {
	Added, Removed, Updated []string
}

// Empty reports whether the sync changed nothing.
func (c CredentialChanges) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Updated) == 0
}

// credentialsSyncLock is the transaction-scoped advisory lock that serialises CredentialsSync
// between replicas (two replicas starting at once each see the other's result, not a mix).
const credentialsSyncLock = 0x666a6f7264637264 // "fjordcrd"

// CredentialsSync makes the credentials table exactly creds, in one transaction: keys not in
// creds are deleted, new ones inserted, changed ones replaced. When anything changed it
// announces it on NotifyCredentials (delivered at commit), so that every replica drops its
// cached credentials. Unchanged rows are not rewritten.
func (s *Store) CredentialsSync(ctx context.Context, creds []Credential) (CredentialChanges, error) {
	var ch CredentialChanges
	err := s.tx(ctx, func(tx pgx.Tx) error {
		ch = CredentialChanges{}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(credentialsSyncLock)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT access_key_id, secret_sealed, account_id FROM credentials`)
		if err != nil {
			return err
		}
		type row struct {
			sealed  []byte
			account string
		}
		have := map[string]row{}
		for rows.Next() {
			var id string
			var r row
			if err := rows.Scan(&id, &r.sealed, &r.account); err != nil {
				rows.Close()
				return err
			}
			have[id] = r
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		want := map[string]bool{}
		for _, c := range creds {
			want[c.AccessKeyID] = true
			old, ok := have[c.AccessKeyID]
			if ok && old.account == c.AccountID {
				secret, err := s.sealer.Open(old.sealed, "credentials:"+c.AccessKeyID)
				if err == nil && subtle.ConstantTimeCompare(secret, []byte(c.SecretAccessKey)) == 1 {
					continue
				}
			}
			sealed, err := s.sealer.Seal([]byte(c.SecretAccessKey), "credentials:"+c.AccessKeyID)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO credentials (access_key_id, secret_sealed, account_id) VALUES ($1,$2,$3)
				ON CONFLICT (access_key_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, account_id = EXCLUDED.account_id`,
				c.AccessKeyID, sealed, c.AccountID); err != nil {
				return err
			}
			if ok {
				ch.Updated = append(ch.Updated, c.AccessKeyID)
			} else {
				ch.Added = append(ch.Added, c.AccessKeyID)
			}
		}
		for id := range have {
			if !want[id] {
				ch.Removed = append(ch.Removed, id)
			}
		}
		if len(ch.Removed) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM credentials WHERE access_key_id = ANY($1)`, ch.Removed); err != nil {
				return err
			}
		}
		if ch.Empty() {
			return nil
		}
		return s.notifyTx(ctx, tx, NotifyCredentials, "")
	})
	if err != nil {
		return CredentialChanges{}, interpret(err)
	}
	slices.Sort(ch.Added)
	slices.Sort(ch.Removed)
	slices.Sort(ch.Updated)
	return ch, nil
}
