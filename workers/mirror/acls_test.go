package mirror

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func TestTargetACL(t *testing.T) {
	t.Parallel()
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	b := func(op kmsg.ACLOperation, perm kmsg.ACLPermissionType) aclBinding {
		return aclBinding{topic: "orders", principal: "User:alice", host: "*", op: op, perm: perm}
	}
	for _, tc := range []struct {
		in   aclBinding
		want kmsg.ACLOperation // 0: not copied
	}{
		{b(kmsg.ACLOperationRead, allow), kmsg.ACLOperationRead},
		{b(kmsg.ACLOperationDescribe, allow), kmsg.ACLOperationDescribe},
		{b(kmsg.ACLOperationWrite, allow), 0},
		{b(kmsg.ACLOperationAll, allow), kmsg.ACLOperationRead},
		{b(kmsg.ACLOperationWrite, deny), kmsg.ACLOperationWrite},
		{b(kmsg.ACLOperationAll, deny), kmsg.ACLOperationAll},
	} {
		got, ok := targetACL(tc.in, "src.orders")
		switch {
		case tc.want == 0 && ok:
			t.Errorf("%v %v copied as %+v", tc.in.perm, tc.in.op, got)
		case tc.want != 0 && (!ok || got.op != tc.want || got.perm != tc.in.perm || got.topic != "src.orders" ||
			got.principal != "User:alice" || got.host != "*"):
			t.Errorf("%v %v → %+v %v, want %v on src.orders", tc.in.perm, tc.in.op, got, ok, tc.want)
		}
	}
}

// aclCluster is a kfake cluster enforcing ACLs: superuser admin, user alice without rights.
func aclCluster(tb testing.TB) []string {
	tb.Helper()
	return newClusterOpts(tb, kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "admin-secret"),
		kfake.User("PLAIN", "alice", "alice-secret"), kfake.EnableACLs())
}

func as(user, pass string) kgo.Opt {
	return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())
}

func createACLs(tb testing.TB, cl *kgo.Client, bs ...aclBinding) {
	tb.Helper()
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range bs {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, b.topic, kmsg.ACLResourcePatternTypeLiteral
		if strings.HasSuffix(b.topic, "*") { // a prefixed pattern, for the test
			c.ResourceName, c.ResourcePatternType = strings.TrimSuffix(b.topic, "*"), kmsg.ACLResourcePatternTypePrefixed
		}
		c.Principal, c.Host, c.Operation, c.PermissionType = b.principal, b.host, b.op, b.perm
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			tb.Fatalf("create acl: %v", err)
		}
	}
}

// TestSyncTopicACLs is the ACL-sync acceptance, on clusters that enforce ACLs: a literal READ
// ACL on a replicated source topic appears on the target topic (and lets its principal read
// it there); ALLOW WRITE is not copied, ALLOW ALL becomes READ, DENY is copied; prefixed ACLs
// and ACLs of topics not replicated are not; target ACLs are never deleted.
func TestSyncTopicACLs(t *testing.T) {
	t.Parallel()
	e := &env{srcAddrs: aclCluster(t), tgtAddrs: aclCluster(t)}
	admin := as("admin", "admin-secret")
	srcCl, tgtCl := client(t, e.srcAddrs, admin), client(t, e.tgtAddrs, admin)
	for _, topic := range []string{"secure", "other"} {
		resp, err := kadm.NewClient(srcCl).CreateTopic(context.Background(), 1, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	allow, deny := kmsg.ACLPermissionTypeAllow, kmsg.ACLPermissionTypeDeny
	acl := func(topic, principal string, op kmsg.ACLOperation, perm kmsg.ACLPermissionType) aclBinding {
		return aclBinding{topic: topic, principal: principal, host: "*", op: op, perm: perm}
	}
	createACLs(t, srcCl,
		acl("secure", "User:alice", kmsg.ACLOperationRead, allow),
		acl("secure", "User:alice", kmsg.ACLOperationWrite, allow),
		acl("secure", "User:bob", kmsg.ACLOperationAll, allow),
		acl("secure", "User:mallory", kmsg.ACLOperationWrite, deny),
		acl("secure*", "User:carol", kmsg.ACLOperationRead, allow), // prefixed
		acl("other", "User:alice", kmsg.ACLOperationRead, allow),   // not replicated
	)
	// Already on the target: not created twice. Target-only: kept.
	createACLs(t, tgtCl,
		acl("src.secure", "User:bob", kmsg.ACLOperationRead, allow),
		acl("src.secure", "User:dave", kmsg.ACLOperationDescribe, allow),
	)
	produceN(t, client(t, e.srcAddrs, admin, kgo.RecordPartitioner(kgo.ManualPartitioner())), "secure", 1, 0, 10, 10)

	cfg := e.config(t, map[string]string{"topics": "secure", "source.cluster.alias": "src"})
	if cfg.SyncTopicACLsInterval != 5*time.Second {
		t.Fatalf("sync.topic.acls interval %v, want the 5 s default", cfg.SyncTopicACLsInterval)
	}
	start := time.Now()
	rt := startTask(t, SourceOptions{Config: cfg, ConnectorName: "acl", TaskCount: 1, SourceOpts: []kgo.Opt{admin}, TargetOpts: []kgo.Opt{admin}}, false)
	want := []aclBinding{
		acl("src.secure", "User:alice", kmsg.ACLOperationRead, allow),
		acl("src.secure", "User:bob", kmsg.ACLOperationRead, allow),
		acl("src.secure", "User:dave", kmsg.ACLOperationDescribe, allow),
		acl("src.secure", "User:mallory", kmsg.ACLOperationWrite, deny),
	}
	var got []aclBinding
	waitFor(t, 20*time.Second, "ACLs on the target", func() bool {
		var err error
		got, err = literalTopicACLs(context.Background(), tgtCl)
		slices.SortFunc(got, func(a, b aclBinding) int {
			if a.less(b) {
				return -1
			}
			return 1
		})
		return err == nil && len(got) >= len(want)
	})
	t.Logf("source ACLs on the target %v after the task started", time.Since(start).Round(time.Millisecond))
	if !slices.Equal(got, want) {
		t.Errorf("target ACLs:\n got %+v\nwant %+v", got, want)
	}

	// The copied ACL works: alice reads the replicated records on the target.
	alice := client(t, e.tgtAddrs, as("alice", "alice-secret"), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"src.secure": {0: kgo.NewOffset().AtStart()}}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n := 0
	for n < 10 {
		fs := alice.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("alice read %d of 10 records on the target: %v", n, fs.Errors())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("alice: %v", err) })
		n += fs.NumRecords()
	}
	// ALLOW WRITE was not copied, and the target enforces it.
	aliceProd := client(t, e.tgtAddrs, as("alice", "alice-secret"), kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
	err := aliceProd.ProduceSync(ctx, &kgo.Record{Topic: "src.secure", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("alice writing to the target topic: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := rt.stop(t); err != nil {
		t.Fatal(err)
	}
}
