// Package motoserver runs moto_server — real AWS-compatible S3, Secrets Manager, CloudWatch,
// Logs and Firehose APIs — on a free loopback port for tests.
package motoserver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// DefaultAccount is the account of moto's resources unless MOTO_ACCOUNT_ID says otherwise:
// the account of Fjord's development and test credentials.
const DefaultAccount = "000000000000"

// Start runs moto_server until the test ends and returns its endpoint, once it answers.
func Start(t testing.TB) string {
	t.Helper()
	return New(t).Endpoint
}

// Server is a moto_server that a test may stop and start again on the same port (moto keeps
// its state in memory: a restarted server is empty).
type Server struct {
	Endpoint string
	bin      string
	port     int
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan error
	out      *syncBuffer
}

// New starts a moto_server that runs until the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server is needed (pip install 'moto[server]'; .ci/run installs it): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{bin: bin, port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port)}
	s.Restart(t)
	t.Cleanup(s.Stop)
	return s
}

// Stop kills the server (no-op when stopped).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on its port (after Stop) and waits until it answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	out := &syncBuffer{}
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		cmd := exec.Command(s.bin, "-H", "127.0.0.1", "-p", strconv.Itoa(s.port))
		cmd.Stdout, cmd.Stderr = out, out
		if os.Getenv("MOTO_ACCOUNT_ID") == "" {
			// Resources (secret ARNs) in Fjord's test account, as servertest.Account.
			cmd.Env = append(os.Environ(), "MOTO_ACCOUNT_ID="+DefaultAccount)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		client := &http.Client{Timeout: time.Second}
		for {
			if resp, err := client.Get(s.Endpoint + "/moto-api/"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Logf("moto_server on %s answered after %v", s.Endpoint, time.Since(start).Round(time.Millisecond))
					s.cmd, s.exited, s.out = cmd, exited, out
					return
				}
			}
			select {
			case err := <-exited:
				// The port may still be held for a moment after a stop: try again.
				if time.Now().After(deadline) {
					t.Fatalf("moto_server exited: %v\n%s", err, out.String())
				}
				time.Sleep(200 * time.Millisecond)
			case <-time.After(25 * time.Millisecond):
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					<-exited
					t.Fatalf("moto_server did not answer within 60s\n%s", out.String())
				}
				continue
			}
			break
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
