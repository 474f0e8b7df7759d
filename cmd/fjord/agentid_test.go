package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestTwoAgentsOneHost runs the "more agents" command twice, as a user pasting it would: no
// --id, same host, same server. Both join under different ids (they used to share the
// hostname and displace each other), and an agent started with an id another live agent of
// this host holds is refused at start with a message that says so.
func TestTwoAgentsOneHost(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 10*time.Second)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	start := func(name string, extra ...string) *proc {
		addr := freeAddr(t)
		// Their default state dirs live under $HOME/.config: the test's own.
		p := startProcEnv(t, name, f.bin, []string{"HOME=" + home, "XDG_CONFIG_HOME="}, append([]string{"agent", "--server", f.srv.grpcAddr, "--token-file", f.tokenFile,
			"--mcu", "2", "--http-addr", addr, "--server-ca", f.caFile}, extra...)...)
		waitOK(t, p, addr, "/readyz", time.Minute)
		return p
	}
	a1, a2 := start("agent one"), start("agent two")
	defer a1.stop(t, 10*time.Second)
	defer a2.stop(t, 10*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		agents := f.cliAgentsList(t)
		if agents[host+"-1"].Connected && agents[host+"-2"].Connected {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents listed: %+v; want %s-1 and %s-2 connected", agents, host, host)
		}
		time.Sleep(200 * time.Millisecond)
	}

	dup := startProcEnv(t, "agent dup", f.bin, []string{"HOME=" + home, "XDG_CONFIG_HOME="}, "agent", "--server", f.srv.grpcAddr, "--token-file", f.tokenFile,
		"--mcu", "2", "--http-addr", freeAddr(t), "--id", host+"-1", "--server-ca", f.caFile)
	select {
	case <-dup.done:
	case <-time.After(30 * time.Second):
		dup.kill(t)
		t.Fatal("an agent with an id another agent of this host holds kept running")
	}
	if dup.exitCode() == 0 || !strings.Contains(dup.stderr.String(), "another fjord agent on this host runs as") {
		t.Fatalf("duplicate id: exit %d, stderr %s", dup.exitCode(), dup.stderr.String())
	}
	if a := f.cliAgentsList(t)[host+"-1"]; !a.Connected {
		t.Fatalf("the first agent lost its stream to the refused duplicate: %+v", a)
	}
}
