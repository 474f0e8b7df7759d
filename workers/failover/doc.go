// Package failover owns the failover drill of the replication engine: a MirrorSource task and a
// MirrorCheckpoint task (workers/mirror, workers/checkpoint) run in this process against two
// kfake clusters reached over TCP, consumer groups commit on the source at random points while
// records keep arriving, and once the groups' offsets are synced to the target every group is
// joined there. The drill counts, per group and partition, the records the group would skip or
// read again after moving: what workers/mirror and workers/checkpoint promise together, checked
// with data.
//
// Run is the drill as a whole, for the tests of this package and for the "translation" suite of
// the bench, which runs it at a realistic size. The tests of this package also compose its steps
// into other scenarios (partitions ending in transaction markers, the MM2 schema of the internal
// topics) and drill a failback in an active-active pair.
package failover
