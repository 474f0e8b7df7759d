package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"

	agentv1 "github.com/fjord-io/fjord/proto/gen/fjord/agent/v1"
)

// Line is one line a worker writes to stdout for its agent: exactly one of Status and Metrics
// is set. It encodes as {"status": <protojson>} or {"metrics": <protojson>}.
type Line struct {
	Status  *agentv1.WorkerStatus
	Metrics *agentv1.WorkerMetrics
}

var unmarshalOpts = protojson.UnmarshalOptions{DiscardUnknown: true}

// MarshalJSON encodes the line; the protobuf messages use protojson.
func (l Line) MarshalJSON() ([]byte, error) {
	switch {
	case l.Status != nil && l.Metrics == nil:
		b, err := protojson.Marshal(l.Status)
		if err != nil {
			return nil, err
		}
		return json.Marshal(struct {
			Status json.RawMessage `json:"status"`
		}{b})
	case l.Metrics != nil && l.Status == nil:
		b, err := protojson.Marshal(l.Metrics)
		if err != nil {
			return nil, err
		}
		return json.Marshal(struct {
			Metrics json.RawMessage `json:"metrics"`
		}{b})
	}
	return nil, errors.New("a worker line holds exactly one of status and metrics")
}

// UnmarshalJSON decodes a line; unknown fields are ignored (a newer worker may add some).
func (l *Line) UnmarshalJSON(b []byte) error {
	var raw struct {
		Status  json.RawMessage `json:"status"`
		Metrics json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*l = Line{}
	if len(raw.Status) > 0 {
		l.Status = &agentv1.WorkerStatus{}
		if err := unmarshalOpts.Unmarshal(raw.Status, l.Status); err != nil {
			return fmt.Errorf("status: %w", err)
		}
	}
	if len(raw.Metrics) > 0 {
		l.Metrics = &agentv1.WorkerMetrics{}
		if err := unmarshalOpts.Unmarshal(raw.Metrics, l.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	if (l.Status == nil) == (l.Metrics == nil) {
		return errors.New("a worker line holds exactly one of status and metrics")
	}
	return nil
}

// WriteLine writes l and a newline to w in one Write.
func WriteLine(w io.Writer, l Line) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// MaxSpecBytes bounds the WorkerSpec line ReadSpec accepts (64 MiB).
const MaxSpecBytes = 64 << 20

// ReadSpec reads the WorkerSpec the agent writes to the worker's stdin: one protojson line (a
// missing final newline is accepted). Unknown fields are ignored.
func ReadSpec(r io.Reader) (*agentv1.WorkerSpec, error) {
	br := bufio.NewReader(io.LimitReader(r, MaxSpecBytes+1))
	b, err := br.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read worker spec: %w", err)
	}
	if len(b) > MaxSpecBytes {
		return nil, fmt.Errorf("read worker spec: longer than %d bytes", MaxSpecBytes)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("read worker spec: stdin is empty")
	}
	spec := &agentv1.WorkerSpec{}
	if err := unmarshalOpts.Unmarshal(b, spec); err != nil {
		return nil, fmt.Errorf("decode worker spec: %w", err)
	}
	return spec, nil
}

// EncodeSpec is the inverse of ReadSpec: the spec as one protojson line with its newline.
func EncodeSpec(spec *agentv1.WorkerSpec) ([]byte, error) {
	b, err := protojson.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode worker spec: %w", err)
	}
	return append(b, '\n'), nil
}
