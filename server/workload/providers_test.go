package workload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/catalog"
)

// TestResolveReference reads Secrets Manager references from a local secrets folder: whole
// secrets, JSON keys of each type, and the errors, which never quote the secret.
func TestResolveReference(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"db.json":    `{"password": "hunter2-pass", "port": 5432, "tls": true, "nested": {"a": "hunter2-nested"}}`,
		"token.json": "not json: hunter2-token",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w := &Compiler{secrets: newSecrets(dir, "")}
	ctx := context.Background()
	for _, c := range []struct {
		ref  catalog.SecretRef
		want string
	}{
		{catalog.SecretRef{SecretID: "db", JSONKey: "password"}, "hunter2-pass"},
		{catalog.SecretRef{SecretID: "db", JSONKey: "port"}, "5432"},
		{catalog.SecretRef{SecretID: "db", JSONKey: "tls"}, "true"},
		{catalog.SecretRef{SecretID: "token"}, "not json: hunter2-token"},
		{catalog.SecretRef{SecretID: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", JSONKey: "password"}, "hunter2-pass"},
	} {
		got, err := w.resolveReference(ctx, c.ref, "")
		if err != nil || got != c.want {
			t.Errorf("%+v = %q, %v; want %q", c.ref, got, err, c.want)
		}
	}
	for _, ref := range []catalog.SecretRef{
		{SecretID: "db", JSONKey: "missing"}, {SecretID: "db", JSONKey: "nested"},
		{SecretID: "token", JSONKey: "k"}, {SecretID: "nowhere", JSONKey: "k"},
	} {
		_, err := w.resolveReference(ctx, ref, "")
		var se *secretError
		if !errors.As(err, &se) || se.Transient {
			t.Errorf("%+v: want a permanent secretError, got %v", ref, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), ref.SecretID) {
			t.Errorf("%+v: %v (must name the secret, never quote it)", ref, err)
		}
	}
}
