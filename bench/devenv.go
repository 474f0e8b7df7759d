package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// devEnv is the data-plane benchmarks' set-up: `fjord dev --agents 0` as a child process (Postgres,
// the API server, the kfake clusters "source" and "target") and `fjord agent` child processes,
// whose workers (`fjord worker`) are their children.
type devEnv struct {
	dir, bin                             string
	httpAddr, grpcAddr, srcAddr, tgtAddr string
	children                             []*child // fjord dev first, then the agents
	agents                               map[string]*child
	agentHTTP                            map[string]string // agent id → its /metrics address
}

// agentSpec is one agent of a devEnv.
type agentSpec struct {
	id  string
	mcu int
}

// startDevEnv starts fjord dev (with devArgs added to its flags) and the agents, each ready, in a
// new temporary directory named after prefix; bin "" builds ./cmd/fjord. On error everything it
// started is stopped and the logs are dumped; otherwise the caller ends it with stop.
func startDevEnv(ctx context.Context, prefix, bin string, devArgs []string, agents ...agentSpec) (e *devEnv, err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	e = &devEnv{dir: dir, bin: bin, agents: map[string]*child{}, agentHTTP: map[string]string{}}
	defer func() {
		if err != nil {
			e.stop(err)
			e = nil
		}
	}()
	// 0755: as root, fjord dev runs Postgres as the postgres user, who must enter the directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return e, err
	}
	if e.bin == "" {
		if e.bin, err = buildFjord(dir); err != nil {
			return e, err
		}
	}
	// The binary as a host loads it from disk: one the Go linker has just written sits in the
	// page cache in large folios (kernels 6.x, ext4), which the kernel maps whole into every
	// process that touches a page of them: each worker's Rss was ~10 MiB larger (density.go).
	if err := evictPageCache(e.bin); err != nil {
		logf("cannot drop %s from the page cache: %v", e.bin, err)
	}
	ports, err := freePorts(4 + len(agents))
	if err != nil {
		return e, err
	}
	e.httpAddr, e.grpcAddr, e.srcAddr, e.tgtAddr = ports[0], ports[1], ports[2], ports[3]
	dev := &child{name: "fjord dev", dir: dir}
	args := append([]string{"dev", "--agents", "0", "--kafka-retention-bytes", devRetentionBytes, "--data-dir", filepath.Join(dir, "dev"),
		"--http-addr", e.httpAddr, "--grpc-addr", e.grpcAddr, "--source-kafka-addr", e.srcAddr, "--target-kafka-addr", e.tgtAddr,
		"--connect-rest-addr", "", "--log-level", "warn"}, devArgs...)
	if err := dev.start(e.bin, args...); err != nil {
		return e, err
	}
	e.children = append(e.children, dev)
	t0 := time.Now()
	if err := waitHTTP(ctx, dev, "http://"+e.httpAddr+"/healthz", 2*time.Minute); err != nil {
		return e, err
	}
	logf("fjord dev ready in %v (source %s, target %s)", time.Since(t0).Round(time.Millisecond), e.srcAddr, e.tgtAddr)
	tokenFile := filepath.Join(dir, "dev", "agent.token")
	for i, as := range agents {
		a := &child{name: as.id, dir: dir}
		e.agentHTTP[as.id] = ports[4+i]
		if err := a.start(e.bin, "agent", "--server", e.grpcAddr, "--token-file", tokenFile, "--mcu", strconv.Itoa(as.mcu), "--id", as.id,
			"--http-addr", e.agentHTTP[as.id], "--log-level", "warn", "--drain-timeout", "10s"); err != nil {
			return e, err
		}
		e.children = append(e.children, a)
		e.agents[as.id] = a
		if err := waitHTTP(ctx, a, "http://"+e.agentHTTP[as.id]+"/readyz", time.Minute); err != nil {
			return e, err
		}
	}
	return e, nil
}

// stop stops the agents (they drain before the clusters go away) and then fjord dev, dumps every
// process's log when failed is not nil, and removes the directory.
func (e *devEnv) stop(failed error) {
	for _, c := range slices.Backward(e.children) {
		c.stop()
	}
	if failed != nil {
		for _, c := range e.children {
			c.dumpLog()
		}
	}
	os.RemoveAll(e.dir)
}

// clients connects to the source cluster (with srcOpts besides the seed) and to the target, the
// latter with a short metadata age: kadm answers from cached metadata otherwise, and a target
// topic a replicator creates would show only seconds later. close closes both.
func (e *devEnv) clients(srcOpts ...kgo.Opt) (src, tgt *kgo.Client, close func(), err error) {
	if src, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.srcAddr)}, srcOpts...)...); err != nil {
		return nil, nil, nil, err
	}
	if tgt, err = kgo.NewClient(kgo.SeedBrokers(e.tgtAddr), kgo.MetadataMinAge(10*time.Millisecond)); err != nil {
		src.Close()
		return nil, nil, nil, err
	}
	return src, tgt, func() { src.Close(); tgt.Close() }, nil
}
