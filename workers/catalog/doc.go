// Package catalog is the one registry of the connector classes Fjord runs, shared by the
// control plane and the workers: for each class its name and the aliases Kafka Connect accepts,
// its configuration definition and validation, how its tasks are sized, whether it ships with
// Apache Kafka (and so needs no plugin content), and the engine a worker runs it with. It also
// owns what both sides must agree on: the error codes of worker and workload states and the
// transactional-id format of exactly-once tasks, and the config-provider references
// (${provider:[path:]key}) and declarations both resolve (providers.go).
//
// The control plane (server/) validates a connector configuration here at CreateConnector and
// UpdateConnector, and sizes workloads from it; workers/tasks maps every class's Engine to a
// task factory, and a test there proves both lists are the same. The package imports no other
// Fjord package but the MirrorMaker 2 configuration parser (workers/mm2), which itself imports
// none: the layout test allows server/ and scheduler/ to import exactly this set.
//
// Adding a connector class: api-docs/connector-classes.md.
package catalog
