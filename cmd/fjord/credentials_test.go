package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafkaconnect"
	"github.com/aws/smithy-go"

	"github.com/fjord-io/fjord/store/pgtest"
)

// credentialPropagation is how soon a change to --credentials-file, reloaded by SIGHUP on one
// replica, must show on every replica: the change is announced with NOTIFY, so it is a matter of
// milliseconds; the margin is for a busy, race-enabled test machine.
const credentialPropagation = 5 * time.Second

type testKey struct{ id, secret, account string }

func writeCredentials(t *testing.T, path string, keys ...testKey) {
	t.Helper()
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf(`{"accessKeyId":%q,"secretAccessKey":%q,"accountId":%q}`, k.id, k.secret, k.account))
	}
	if err := os.WriteFile(path, []byte("["+strings.Join(parts, ",")+"]"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// callAs makes a signed ListConnectors call with the key against addr with the AWS SDK and
// returns the HTTP status and the AWS error code ("" on success).
func callAs(ctx context.Context, t *testing.T, addr string, k testKey) (int, string) {
	t.Helper()
	c := kafkaconnect.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(k.id, k.secret, ""),
		BaseEndpoint:     aws.String("http://" + addr),
		HTTPClient:       &http.Client{Timeout: 30 * time.Second},
		RetryMaxAttempts: 1,
	})
	_, err := c.ListConnectors(ctx, &kafkaconnect.ListConnectorsInput{})
	if err == nil {
		return 200, ""
	}
	var re *awshttp.ResponseError
	var ae smithy.APIError
	if !errors.As(err, &re) || !errors.As(err, &ae) {
		t.Fatalf("ListConnectors as %s on %s: %v (no HTTP response)", k.id, addr, err)
	}
	return re.HTTPStatusCode(), ae.ErrorCode()
}

// lookups reads fjord_credential_lookups_total{result} from a server's /metrics.
func lookups(t *testing.T, addr, result string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := `fjord_credential_lookups_total{result="` + result + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("%s: no %s in /metrics", addr, want)
	return 0
}

// TestCredentialsFileIsTheTruth runs two `fjord server` replicas on one database. A key removed
// from --credentials-file and reloaded with SIGHUP on one replica is refused (403
// UnrecognizedClientException) by both within credentialPropagation while the other key keeps
// working; a key added the same way works on both even where it had just been refused (and
// cached as unknown); a bad file on SIGHUP changes nothing and the process keeps serving; a flood
// of random access keys reaches the database once per distinct key and is never a 5xx; a
// restart with a key gone from the file refuses it.
func TestCredentialsFileIsTheTruth(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	bin := buildFjord(t)
	dbURL, keyHex := pgtest.URL(t), randomKeyHex(t)
	dir := t.TempDir()
	credsFile, pluginDir := filepath.Join(dir, "credentials.json"), filepath.Join(dir, "plugins")
	stay := testKey{"test", "test", "000000000000"}
	gone := testKey{"AKGONE", "gone-secret-never-logged", "111111111111"}
	fresh := testKey{"AKFRESH", "fresh-secret-never-logged", "222222222222"}
	writeCredentials(t, credsFile, stay, gone)

	a := startServer(t, bin, dbURL, keyHex, credsFile, pluginDir)
	b := startServer(t, bin, dbURL, keyHex, credsFile, pluginDir)
	replicas := []*fjordServer{a, b}
	for _, s := range replicas {
		for _, k := range []testKey{stay, gone} {
			if st, code := callAs(ctx, t, s.httpAddr, k); st != 200 {
				t.Fatalf("%s on %s before any change: %d %s", k.id, s.httpAddr, st, code)
			}
		}
		// The new key is unknown yet, and now cached as unknown on both replicas.
		if st, code := callAs(ctx, t, s.httpAddr, fresh); st != 403 || code != "UnrecognizedClientException" {
			t.Fatalf("%s before it is in the file: %d %s, want 403 UnrecognizedClientException", fresh.id, st, code)
		}
	}

	// Remove a key, add one; SIGHUP on replica a only.
	writeCredentials(t, credsFile, stay, fresh)
	t0 := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for _, s := range replicas {
		poll(t, credentialPropagation, gone.id+" refused on "+s.httpAddr, func() bool {
			st, code := callAs(ctx, t, s.httpAddr, gone)
			return st == 403 && code == "UnrecognizedClientException"
		})
		poll(t, credentialPropagation, fresh.id+" accepted on "+s.httpAddr, func() bool {
			st, _ := callAs(ctx, t, s.httpAddr, fresh)
			return st == 200
		})
		if st, code := callAs(ctx, t, s.httpAddr, stay); st != 200 {
			t.Fatalf("%s after the reload on %s: %d %s", stay.id, s.httpAddr, st, code)
		}
	}
	t.Logf("removal and addition seen by both replicas %v after SIGHUP", time.Since(t0).Round(time.Millisecond))
	if !strings.Contains(a.stderr.String(), `"added":["AKFRESH"],"removed":["AKGONE"]`) {
		t.Errorf("replica a's log does not name the added and removed keys:\n%s", a.stderr)
	}

	// A bad file on SIGHUP keeps the current set; the process keeps serving.
	if err := os.WriteFile(credsFile, []byte(`[{"accessKeyId":"x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "replica b to log the refused reload", func() bool {
		return strings.Contains(b.stderr.String(), "credentials file not reloaded")
	})
	for _, s := range replicas {
		for _, k := range []testKey{stay, fresh} {
			if st, code := callAs(ctx, t, s.httpAddr, k); st != 200 {
				t.Fatalf("%s after a bad file on %s: %d %s", k.id, s.httpAddr, st, code)
			}
		}
	}
	if b.exited() {
		t.Fatalf("replica b exited after SIGHUP: %v", b.err)
	}

	// A flood of random access keys, each sent several times at once: the database is asked at
	// most once per distinct key (per UnknownCredentialTTL, 30s, longer than this flood), and
	// no answer is a 5xx.
	const distinct, repeats = 200, 3
	before := lookups(t, b.httpAddr, "unknown")
	var flood []testKey
	for range distinct {
		raw := make([]byte, 10)
		_, _ = rand.Read(raw)
		flood = append(flood, testKey{"AKRND" + strings.ToUpper(hex.EncodeToString(raw)), "x", ""})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string]int{}
	sem := make(chan struct{}, 32)
	tf := time.Now()
	for range repeats {
		for _, k := range flood {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				st, code := callAs(ctx, t, b.httpAddr, k)
				mu.Lock()
				statuses[fmt.Sprintf("%d %s", st, code)]++
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	floodTime := time.Since(tf)
	after := lookups(t, b.httpAddr, "unknown")
	t.Logf("flood: %d requests (%d distinct random keys) in %v: answers %v; store lookups for unknown keys %d",
		distinct*repeats, distinct, floodTime.Round(time.Millisecond), statuses, after-before)
	if len(statuses) != 1 || statuses["403 UnrecognizedClientException"] != distinct*repeats {
		t.Errorf("flood answers %v, want only 403 UnrecognizedClientException", statuses)
	}
	if got := after - before; got > distinct || got < 1 {
		t.Errorf("flood of %d distinct keys x %d made %d store lookups, want at most %d", distinct, repeats, got, distinct)
	}
	if n := lookups(t, b.httpAddr, "error"); n != 0 {
		t.Errorf("%d credential lookups failed", n)
	}

	// Restart with a key gone from the file: it is gone.
	for _, s := range replicas {
		if !s.stop(t, 15*time.Second) || s.exitCode() != 0 {
			t.Fatalf("server after SIGTERM: %v, want exit 0", s.err)
		}
	}
	writeCredentials(t, credsFile, stay)
	c := startServer(t, bin, dbURL, keyHex, credsFile, pluginDir)
	if st, code := callAs(ctx, t, c.httpAddr, fresh); st != 403 || code != "UnrecognizedClientException" {
		t.Fatalf("%s after a restart without it: %d %s, want 403 UnrecognizedClientException", fresh.id, st, code)
	}
	if st, code := callAs(ctx, t, c.httpAddr, stay); st != 200 {
		t.Fatalf("%s after the restart: %d %s", stay.id, st, code)
	}
	for _, s := range []*fjordServer{a, b, c} {
		for _, secret := range []string{gone.secret, fresh.secret} {
			if strings.Contains(s.stderr.String()+s.stdout.String(), secret) {
				t.Errorf("a secret appears in the log of %s", s.httpAddr)
			}
		}
	}
}
