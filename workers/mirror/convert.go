package mirror

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fjord-io/fjord/workers/connect/convert"
	"github.com/fjord-io/fjord/workers/connect/data"
	"github.com/fjord-io/fjord/workers/mm2"
)

// FjordHeaderPrefix starts the names of the headers Fjord itself writes (ProvenanceHeader, the
// offset-sync kind): header converters never touch them, so loop prevention and offset
// translation read them as Fjord wrote them.
const FjordHeaderPrefix = "fjord."

// recordConverter applies a connector's key, value and header converters to a copied record,
// as a Connect worker applies them to MirrorSourceConnector's records: the key and value
// have Connect's optional bytes schema, each header a bytes schema.
type recordConverter struct {
	key, value convert.Converter
	header     convert.HeaderConverter
}

// newRecordConverter returns nil when c configures no converter: records are copied as they
// are, with no work per record.
func newRecordConverter(c mm2.Config) *recordConverter {
	if c.KeyConverter == nil && c.ValueConverter == nil && c.HeaderConverter == nil {
		return nil
	}
	return &recordConverter{key: c.KeyConverter, value: c.ValueConverter, header: c.HeaderConverter}
}

// apply converts r (bound for r.Topic) in place. Its headers are replaced by a new slice, so the
// fetched record's are never changed.
func (rc *recordConverter) apply(r *kgo.Record) error {
	var err error
	if rc.key != nil {
		if r.Key, err = convert.FromBytes(rc.key, r.Topic, r.Key); err != nil {
			return fmt.Errorf("key.converter: %w", err)
		}
	}
	if rc.value != nil {
		if r.Value, err = convert.FromBytes(rc.value, r.Topic, r.Value); err != nil {
			return fmt.Errorf("value.converter: %w", err)
		}
	}
	if rc.header == nil || len(r.Headers) == 0 {
		return nil
	}
	hs := make([]kgo.RecordHeader, len(r.Headers))
	for i, h := range r.Headers {
		hs[i] = h
		if strings.HasPrefix(h.Key, FjordHeaderPrefix) {
			continue
		}
		var v any
		if h.Value != nil {
			v = h.Value
		}
		if hs[i].Value, err = rc.header.FromConnectHeader(r.Topic, h.Key, data.BytesSchema, v); err != nil {
			return fmt.Errorf("header.converter, header %q: %w", h.Key, err)
		}
	}
	r.Headers = hs
	return nil
}
