// Package failover holds end-to-end drills of the replication engine: a MirrorSource task and a
// MirrorCheckpoint task run in this process against two kfake clusters reached over TCP, and
// consumer groups move from the source cluster to the target. There is no non-test code here:
// the drills check, with data, what workers/mirror and workers/checkpoint promise together.
package failover

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
