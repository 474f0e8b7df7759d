package server

import (
	"crypto/rand"
	"fmt"
	"github.com/fjord-io/fjord/server/workload"
	"math/big"

	"github.com/google/uuid"
)

// newARN mints the ARN of a new resource: {name}/{uuid}-{n}, as AWS does.
func newARN(service, region, account, resourceType, name string) string {
	return workload.ARN{Partition: "aws", Service: service, Region: region, Account: account,
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
