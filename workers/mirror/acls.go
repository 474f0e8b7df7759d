package mirror

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic ACL sync (sync.topic.acls.enabled), run by task 0 every sync.topic.acls.interval
// (topicsync.go), with MM2's rules (MirrorSourceConnector.syncTopicAcls):
//
//   - only LITERAL bindings on TOPIC resources whose topic the connector replicates (by name,
//     as MM2's shouldReplicateTopic) are copied, renamed to the target topic;
//   - ALLOW WRITE is not copied: only the replication flow writes to a remote topic;
//   - ALLOW ALL becomes ALLOW READ; DENY bindings are copied as they are;
//   - bindings already on the target are not created again; target ACLs are never deleted
//     (a binding removed on the source stays on the target).
//
// A cluster without an authorizer answers SECURITY_DISABLED: the loop then stops, as MM2's.

// aclBinding is one literal topic ACL.
type aclBinding struct {
	topic, principal, host string
	op                     kmsg.ACLOperation
	perm                   kmsg.ACLPermissionType
}

// targetACL is the binding copied to targetTopic for source binding b, or false when b is
// not copied.
func targetACL(b aclBinding, targetTopic string) (aclBinding, bool) {
	if b.perm == kmsg.ACLPermissionTypeAllow {
		switch b.op {
		case kmsg.ACLOperationWrite:
			return aclBinding{}, false
		case kmsg.ACLOperationAll:
			b.op = kmsg.ACLOperationRead
		}
	}
	b.topic = targetTopic
	return b, true
}

// syncTopicACLs runs one ACL sync round.
func (t *SourceTask) syncTopicACLs(ctx context.Context) error {
	src, err := literalTopicACLs(ctx, t.src)
	if err != nil {
		return fmt.Errorf("describe source acls: %w", err)
	}
	want := map[aclBinding]bool{}
	for _, b := range src {
		if !ShouldReplicate(t.cfg, b.topic) || t.isBlocked(b.topic) {
			continue
		}
		if tb, ok := targetACL(b, t.policy.FormatRemoteTopic(t.cfg.SourceAlias, b.topic)); ok {
			want[tb] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	have, err := literalTopicACLs(ctx, t.adm)
	if err != nil {
		return fmt.Errorf("describe target acls: %w", err)
	}
	for _, b := range have {
		delete(want, b)
	}
	if len(want) == 0 {
		return nil
	}
	create := make([]aclBinding, 0, len(want))
	for b := range want {
		create = append(create, b)
	}
	sort.Slice(create, func(i, j int) bool { return create[i].less(create[j]) })
	req := kmsg.NewPtrCreateACLsRequest()
	for _, b := range create {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType = kmsg.ACLResourceTypeTopic
		c.ResourceName = b.topic
		c.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host, c.Operation, c.PermissionType = b.principal, b.host, b.op, b.perm
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, t.adm)
	if err != nil {
		return fmt.Errorf("create target acls: %w", err)
	}
	var errs []error
	created := 0
	for i, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			if errors.Is(err, kerr.SecurityDisabled) {
				return fmt.Errorf("%w: the target cluster has no ACL authorizer", errStopSync)
			}
			if i < len(create) {
				errs = append(errs, fmt.Errorf("create acl %+v: %w", create[i], err))
			}
			continue
		}
		created++
	}
	if created > 0 {
		t.log.Info("copied topic acls", "created", created)
	}
	return errors.Join(errs...)
}

// literalTopicACLs lists a cluster's LITERAL TOPIC ACL bindings.
func literalTopicACLs(ctx context.Context, cl *kgo.Client) ([]aclBinding, error) {
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeTopic
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAny
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.SecurityDisabled) {
			return nil, fmt.Errorf("%w: no ACL authorizer", errStopSync)
		}
		return nil, err
	}
	var out []aclBinding
	for _, r := range resp.Resources {
		if r.ResourceType != kmsg.ACLResourceTypeTopic || r.ResourcePatternType != kmsg.ACLResourcePatternTypeLiteral {
			continue
		}
		for _, a := range r.ACLs {
			out = append(out, aclBinding{topic: r.ResourceName, principal: a.Principal, host: a.Host, op: a.Operation, perm: a.PermissionType})
		}
	}
	return out, nil
}

func (b aclBinding) less(o aclBinding) bool {
	if b.topic != o.topic {
		return b.topic < o.topic
	}
	if b.principal != o.principal {
		return b.principal < o.principal
	}
	if b.host != o.host {
		return b.host < o.host
	}
	if b.op != o.op {
		return b.op < o.op
	}
	return b.perm < o.perm
}
