package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"

	"github.com/fjord-io/fjord/migrations"
	"github.com/fjord-io/fjord/server/artifact"
	"github.com/fjord-io/fjord/store"
)

// credentialFile is one entry of --credentials-file.
type credentialFile struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	AccountID       string `json:"accountId"`
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// loadCredentials reads a JSON list of {"accessKeyId", "secretAccessKey", "accountId"}.
func loadCredentials(path string) ([]store.Credential, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read credentials file: %w", err)
	}
	var entries []credentialFile
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("credentials file %s: expected a JSON list of {accessKeyId, secretAccessKey, accountId}: %w", path, err)
	}
	var out []store.Credential
	seen := map[string]bool{}
	for i, e := range entries {
		if e.AccessKeyID == "" || e.SecretAccessKey == "" || !accountRE.MatchString(e.AccountID) {
			return nil, fmt.Errorf("credentials file %s: entry %d needs accessKeyId, secretAccessKey and a 12-digit accountId", path, i+1)
		}
		if seen[e.AccessKeyID] {
			return nil, fmt.Errorf("credentials file %s: entry %d repeats accessKeyId %s", path, i+1, e.AccessKeyID)
		}
		seen[e.AccessKeyID] = true
		out = append(out, store.Credential{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, AccountID: e.AccountID})
	}
	return out, nil
}

// openStore applies migrations, opens the store and makes the credentials table exactly creds
// (syncCredentials).
func openStore(ctx context.Context, log *slog.Logger, databaseURL string, key []byte, creds []store.Credential) (*store.Store, error) {
	if err := migrations.Up(databaseURL); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, store.Config{DatabaseURL: databaseURL, Key: key})
	if err != nil {
		return nil, err
	}
	if err := syncCredentials(ctx, log, st, creds); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// syncCredentials makes the credentials table exactly creds — keys not listed are deleted — in
// one transaction that tells every replica to drop its cached credentials. It logs the access
// keys added, removed and updated, never a secret.
func syncCredentials(ctx context.Context, log *slog.Logger, st *store.Store, creds []store.Credential) error {
	ch, err := st.CredentialsSync(ctx, creds)
	if err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	log.Info("credentials synchronised", "keys", len(creds),
		"added", nonNil(ch.Added), "removed", nonNil(ch.Removed), "updated", nonNil(ch.Updated))
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// reloadCredentialsOnHUP rereads the credentials file on every SIGHUP (hup) until ctx is done
// and synchronises the table with it. A file that does not read or parse keeps the current
// set and logs why.
func reloadCredentialsOnHUP(ctx context.Context, log *slog.Logger, st *store.Store, path string, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if path == "" {
			log.Info("SIGHUP: no --credentials-file to reload")
			continue
		}
		creds, err := loadCredentials(path)
		if err != nil {
			log.Error("SIGHUP: credentials file not reloaded; the current credentials stay", "error", err.Error())
			continue
		}
		if err := syncCredentials(ctx, log, st, creds); err != nil {
			log.Error("SIGHUP: credentials not reloaded; the current credentials stay", "error", err.Error())
		}
	}
}

// pluginSource configures where custom plugin objects are fetched from.
type pluginSource struct {
	dir       string
	endpoint  string
	region    string
	pathStyle bool
	accessKey string
	secretKey string
}

func (p *pluginSource) register(f *flags) {
	f.str(&p.dir, "plugin-dir", "", "", "serve S3 locations from this folder instead of S3: bucket B is the folder DIR/B/")
	f.str(&p.endpoint, "s3-endpoint", "", "", "S3-compatible endpoint for custom plugin objects (default: AWS)")
	f.str(&p.region, "s3-region", "", "us-east-1", "region of the S3 endpoint")
	f.boolean(&p.pathStyle, "s3-path-style", false, "use path-style S3 addressing (most S3-compatible stores need it)")
	f.str(&p.accessKey, "s3-access-key-id", "", "", "static S3 access key (default: the AWS default credential chain)")
	f.str(&p.secretKey, "s3-secret-access-key", "", "", "static S3 secret key")
}

func (p *pluginSource) fetcher(ctx context.Context) (artifact.Fetcher, error) {
	if p.dir != "" {
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			return nil, err
		}
		return artifact.NewDirFetcher(p.dir), nil
	}
	return artifact.NewS3Fetcher(ctx, artifact.S3Config{
		Endpoint: p.endpoint, Region: p.region, UsePathStyle: p.pathStyle,
		AccessKeyID: p.accessKey, SecretAccessKey: p.secretKey,
	})
}
