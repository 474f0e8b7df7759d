package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/kgo"
)

// balancer is a minimal HTTP load balancer in front of server replicas, as a platform team
// would put one: round robin, and a replica that refuses the connection is skipped for the
// next one (no request reached it, so the retry is safe).
type balancer struct {
	backends []string
	next     atomic.Uint64
	srv      *http.Server
	addr     string
}

func startBalancer(t *testing.T, backends ...string) *balancer {
	t.Helper()
	b := &balancer{backends: backends}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	dial := &net.Dialer{Timeout: time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		start := b.next.Add(1)
		var last error
		for i := range b.backends {
			c, err := dial.DialContext(ctx, network, b.backends[(int(start)+i)%len(b.backends)])
			if err == nil {
				return c, nil
			}
			last = err
		}
		return nil, last
	}, MaxIdleConnsPerHost: 8, IdleConnTimeout: 2 * time.Second}
	proxy := &httputil.ReverseProxy{
		// The Host header stays the client's: SigV4 signed it.
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "fjord-replicas"})
			r.Out.Host = r.In.Host
		},
		Transport: tr,
	}
	b.srv = &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = b.srv.Serve(l) }()
	t.Cleanup(func() {
		_ = b.srv.Close()
		tr.CloseIdleConnections()
	})
	return b
}

// TestRollingRestartE2E: two `fjord server` replicas on one database behind a load balancer;
// while an SDK client (standard retries) sends 50 requests/s and a replicator copies records,
// the replicas are restarted one after the other with SIGTERM (the agent's replica first).
// No request fails, at most one replica leads the scheduler at any moment, and every record
// is copied exactly once.
func TestRollingRestartE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second)
	a, bSrv := f.srv, startServer(t, f.bin, f.dbURL, f.keyHex, f.credsFile, f.pluginDir, "--agent-token", f.token, "--lease-ttl", "3s")
	f.startAgent(t, "rolling-agent", 4)
	createTopics(t, f.src, 3, "rolling")
	arn := f.createReplicator(t, "rep-rolling", []string{"rolling"}, ktypes.ReplicationTopicNameConfigurationTypeIdentical)
	f.waitReplicatorRunning(t, arn, time.Minute)

	lb := startBalancer(t, a.httpAddr, bSrv.httpAddr)
	client := kafka.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://" + lb.addr),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:     func() aws.Retryer { return retry.NewStandard() }})

	// The load: 50 DescribeReplicator calls a second, and records into the source.
	ctx, stopLoad := context.WithCancel(context.Background())
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			<-tick.C
			wg.Add(1)
			go func() {
				defer wg.Done()
				rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := client.DescribeReplicator(rctx, &kafka.DescribeReplicatorInput{ReplicatorArn: aws.String(arn)})
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}()
		}
	}()
	prod := newClient(t, f.src)
	var produced atomic.Int64
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for range 20 {
				prod.Produce(context.Background(), &kgo.Record{Topic: "rolling", Value: []byte("v")}, func(_ *kgo.Record, err error) {
					if err == nil {
						produced.Add(1)
					}
				})
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	// At most one leader: the scheduler's advisory lock in this fleet's database (the tests'
	// Postgres serves other fleets too), sampled all along.
	var maxLeaders atomic.Int64
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		for ctx.Err() == nil {
			var n int64
			if err := f.db.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND ((classid::bigint << 32) | objid::bigint) = $1`, int64(0x666a6f7264)).Scan(&n); err == nil && n > maxLeaders.Load() {
				maxLeaders.Store(n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	time.Sleep(2 * time.Second)
	for i, s := range []*fjordServer{a, bSrv} {
		t0 := time.Now()
		if !s.stop(t, 30*time.Second) {
			t.FailNow()
		}
		down := time.Since(t0)
		time.Sleep(time.Second) // the balancer sends everything to the other replica meanwhile
		ns := startServerAt(t, s.httpAddr, s.grpcAddr, f.bin, f.dbURL, f.keyHex, f.credsFile, f.pluginDir, "--agent-token", f.token, "--lease-ttl", "3s")
		*s = *ns
		t.Logf("replica %d: stopped in %v after SIGTERM, serving again %v after it", i+1, down.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
		time.Sleep(3 * time.Second)
	}
	stopLoad()
	wg.Wait()
	<-leaderDone
	if err := prod.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests through the restarts, %d failed; at most %d leader(s) at once; %d records produced", calls.Load(), failed.Load(), maxLeaders.Load(), produced.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), calls.Load(), firstErr.Load())
	}
	if calls.Load() < 300 {
		t.Errorf("only %d requests were sent: the load did not run", calls.Load())
	}
	if maxLeaders.Load() > 1 {
		t.Errorf("%d replicas held the scheduler's leadership at once", maxLeaders.Load())
	}
	consumeN(t, f.tgt, "rolling", int(produced.Load()), 2*time.Minute)
	f.waitReplicatorRunning(t, arn, time.Minute)
}
