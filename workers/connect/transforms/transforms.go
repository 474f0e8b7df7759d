// Package transforms is Kafka Connect's single message transforms as Fjord's workers apply
// them (transforms=<alias>,…, transforms.<alias>.type and its options, predicates and
// negate), for the classes CDC users configure: Apache Kafka's RegexRouter, InsertField,
// ReplaceField, ValueToKey, ExtractField, TimestampRouter and Debezium's
// ExtractNewRecordState.
//
// Keys and values are workers/connect/data's: a value with a schema is a *data.Struct for the
// struct transforms; a schemaless one is a map[string]any or a data.Map with string keys (the
// forms workers/connect/convert writes), and a transform returns the form it was given. A
// transform never modifies the record it is given. api-docs/transforms.md lists the options.
//
// It is a leaf (TestLayout): the control plane validates a connector's transforms with it at
// creation (Validate), the workers apply them (New, Chain.Apply).
package transforms

import (
	"time"

	"github.com/fjord-io/fjord/workers/connect/data"
)

// Record is a Connect source record as transforms see it.
type Record struct {
	Topic string
	// Partition is the record's partition; nil lets the producer choose (by key).
	Partition   *int32
	KeySchema   *data.Schema
	Key         any
	ValueSchema *data.Schema
	Value       any
	Timestamp   time.Time
	Headers     []Header
}

// Header is one Connect header.
type Header struct {
	Key    string
	Schema *data.Schema
	Value  any
}

// Transform is one configured transform.
type Transform interface {
	// Apply returns the transformed record, or nil to drop it; an error fails the task
	// (errors.tolerance aside).
	Apply(r *Record) (*Record, error)
}

// FieldError is one problem with one key.
type FieldError struct {
	Key     string
	Message string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Message }
