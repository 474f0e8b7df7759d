package server

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"

	"github.com/google/uuid"
)

// ARN is a parsed Amazon Resource Name of one of Fjord's resources:
// arn:aws:{service}:{region}:{account}:{resourceType}/{name}/{id}.
type ARN struct {
	Partition, Service, Region, Account string
	// ResourceType is "connector", "custom-plugin", "worker-configuration",
	// "connector-operation", "replicator" or "cluster".
	ResourceType string
	// Resource is what follows the resource type: "{name}/{uuid}-{n}".
	Resource string
}

func (a ARN) String() string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s/%s", a.Partition, a.Service, a.Region, a.Account, a.ResourceType, a.Resource)
}

// Name is the resource name inside the ARN (the first segment after the type).
func (a ARN) Name() string {
	name, _, _ := strings.Cut(a.Resource, "/")
	return name
}

// ParseARN parses s; ok is false for anything that is not an ARN of the form above.
func ParseARN(s string) (ARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return ARN{}, false
	}
	typ, rest, ok := strings.Cut(parts[5], "/")
	if !ok || typ == "" || rest == "" {
		return ARN{}, false
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], ResourceType: typ, Resource: rest}, true
}

// newARN mints the ARN of a new resource: {name}/{uuid}-{n}, as AWS does.
func newARN(service, region, account, resourceType, name string) string {
	return ARN{Partition: "aws", Service: service, Region: region, Account: account,
		ResourceType: resourceType, Resource: name + "/" + uuid.NewString() + "-" + cellSuffix()}.String()
}

// cellSuffix is the small number AWS appends to a resource id.
func cellSuffix() string {
	n, err := rand.Int(rand.Reader, big.NewInt(9))
	if err != nil {
		return "1"
	}
	return fmt.Sprint(n.Int64() + 1)
}
