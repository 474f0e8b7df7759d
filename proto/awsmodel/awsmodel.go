// Package awsmodel embeds the AWS API models (botocore JSON) of the two services Fjord speaks,
// kafkaconnect 2021-09-14 and kafka 2018-11-14, and parses them. The models are the source of
// truth for every path, member name, bound, pattern and enum: protogen derives the .proto files
// and the gateway's HTTP rules from them, and the server validates requests against them.
package awsmodel

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

//go:embed models/*.json
var files embed.FS

// Service names as they appear in ARNs and in SigV4 scopes.
const (
	KafkaConnect = "kafkaconnect"
	Kafka        = "kafka"
)

var modelFiles = map[string]string{
	KafkaConnect: "models/kafkaconnect-2021-09-14.json",
	Kafka:        "models/kafka-2018-11-14.json",
}

// Model is one service's API model.
type Model struct {
	Service    string
	Metadata   map[string]any        `json:"metadata"`
	Operations map[string]*Operation `json:"operations"`
	Shapes     map[string]*Shape     `json:"shapes"`
}

// Operation is one API operation with its HTTP binding.
type Operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method       string `json:"method"`
		RequestURI   string `json:"requestUri"`
		ResponseCode int    `json:"responseCode"`
	} `json:"http"`
	Input  *ShapeRef   `json:"input"`
	Output *ShapeRef   `json:"output"`
	Errors []*ShapeRef `json:"errors"`
}

// ShapeRef names a shape.
type ShapeRef struct {
	Shape string `json:"shape"`
}

// Shape is a type of the model: structure, list, map, string, integer, long, boolean, double,
// timestamp or blob, with its constraints.
type Shape struct {
	Type      string             `json:"type"`
	Members   map[string]*Member `json:"members"`
	Required  []string           `json:"required"`
	Member    *ShapeRef          `json:"member"`
	Key       *ShapeRef          `json:"key"`
	Value     *ShapeRef          `json:"value"`
	Min       *float64           `json:"min"`
	Max       *float64           `json:"max"`
	Pattern   string             `json:"pattern"`
	Enum      []string           `json:"enum"`
	Sensitive bool               `json:"sensitive"`
	Exception bool               `json:"exception"`
	Error     *struct {
		HTTPStatusCode int `json:"httpStatusCode"`
	} `json:"error"`
}

// Member is one member of a structure.
type Member struct {
	Shape        string `json:"shape"`
	Location     string `json:"location"`     // "", "uri", "querystring", "header"
	LocationName string `json:"locationName"` // wire name when it differs from the member name
}

// WireName is the member's name on the wire (JSON key, path label or query parameter).
func (m *Member) WireName(name string) string {
	if m.LocationName != "" {
		return m.LocationName
	}
	return name
}

var (
	loadOnce sync.Once
	models   map[string]*Model
	loadErr  error
)

// Load returns the parsed model of a service (KafkaConnect or Kafka).
func Load(service string) (*Model, error) {
	loadOnce.Do(func() {
		models = map[string]*Model{}
		for svc, path := range modelFiles {
			raw, err := files.ReadFile(path)
			if err != nil {
				loadErr = err
				return
			}
			m := &Model{Service: svc}
			if err := json.Unmarshal(raw, m); err != nil {
				loadErr = fmt.Errorf("parse %s: %w", path, err)
				return
			}
			for name, op := range m.Operations {
				op.Name = name
			}
			models[svc] = m
		}
	})
	if loadErr != nil {
		return nil, loadErr
	}
	m, ok := models[service]
	if !ok {
		return nil, fmt.Errorf("awsmodel: unknown service %q", service)
	}
	return m, nil
}

// MustLoad is Load for start-up code: the models are embedded, so a failure is a build defect.
func MustLoad(service string) *Model {
	m, err := Load(service)
	if err != nil {
		panic(err)
	}
	return m
}

// SortedMembers returns a structure's member names in a stable order: the model's own order is
// lost by JSON decoding into a map, so members are sorted by name. protogen numbers proto fields
// in this order.
func (s *Shape) SortedMembers() []string {
	names := make([]string, 0, len(s.Members))
	for n := range s.Members {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// IsRequired reports whether member is required in structure s.
func (s *Shape) IsRequired(member string) bool {
	for _, r := range s.Required {
		if r == member {
			return true
		}
	}
	return false
}
