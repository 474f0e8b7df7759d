// Package validate checks API requests against the AWS model: required members, string
// lengths, patterns, enums, numeric ranges and list/map sizes, walking the proto message by the
// members' wire names. The first violation (members in sorted order, depth first) becomes a
// BadRequestException that names the member by its full path. Rules the model cannot express
// (mutually exclusive members, MSK Connect's documented limits) live with the handlers.
package validate

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/fjord-io/fjord/proto/awsmodel"
	"github.com/fjord-io/fjord/server/apierr"
)

// Validator validates the inputs of one service's operations.
type Validator struct {
	model *awsmodel.Model
	mu    sync.Mutex
	res   map[string]*regexp.Regexp
}

// New returns a validator for a service's model.
func New(m *awsmodel.Model) *Validator {
	return &Validator{model: m, res: map[string]*regexp.Regexp{}}
}

// Request validates msg as the input of operation op.
func (v *Validator) Request(op string, msg proto.Message) error {
	o, ok := v.model.Operations[op]
	if !ok || o.Input == nil {
		return nil
	}
	return v.Shape(o.Input.Shape, msg)
}

// Shape validates msg as an instance of the structure shape.
func (v *Validator) Shape(shape string, msg proto.Message) error {
	return v.structure(shape, msg.ProtoReflect(), "")
}

func (v *Validator) structure(shape string, msg protoreflect.Message, path string) error {
	s := v.model.Shapes[shape]
	fields := msg.Descriptor().Fields()
	for _, name := range s.SortedMembers() {
		mem := s.Members[name]
		wire := mem.WireName(name)
		p := wire
		if path != "" {
			p = path + "." + wire
		}
		fd := fields.ByJSONName(wire)
		if fd == nil {
			continue
		}
		if !msg.Has(fd) {
			// proto3 cannot tell an empty list or map from an absent one; an empty required
			// list is accepted (AWS accepts [] too), and handlers check non-emptiness where it
			// matters.
			if s.IsRequired(name) && !fd.IsList() && !fd.IsMap() {
				return fail(p, "Member must not be null")
			}
			continue
		}
		if err := v.value(mem.Shape, fd, msg.Get(fd), p); err != nil {
			return err
		}
	}
	return nil
}

func (v *Validator) value(shape string, fd protoreflect.FieldDescriptor, val protoreflect.Value, path string) error {
	s := v.model.Shapes[shape]
	switch s.Type {
	case "structure":
		return v.structure(shape, val.Message(), path)
	case "list":
		l := val.List()
		if err := size(s, l.Len(), path); err != nil {
			return err
		}
		elem := v.model.Shapes[s.Member.Shape]
		for i := 0; i < l.Len(); i++ {
			ep := fmt.Sprintf("%s.%d", path, i+1) // AWS numbers list members from 1
			var err error
			if elem.Type == "structure" {
				err = v.structure(s.Member.Shape, l.Get(i).Message(), ep)
			} else {
				err = v.scalar(s.Member.Shape, l.Get(i), ep)
			}
			if err != nil {
				return err
			}
		}
	case "map":
		m := val.Map()
		if err := size(s, m.Len(), path); err != nil {
			return err
		}
		var err error
		m.Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			if err = v.scalar(s.Key.Shape, k.Value(), path+" key"); err != nil {
				return false
			}
			err = v.scalar(s.Value.Shape, mv, path+"."+k.String())
			return err == nil
		})
		return err
	default:
		return v.scalar(shape, val, path)
	}
	return nil
}

func (v *Validator) scalar(shape string, val protoreflect.Value, path string) error {
	s := v.model.Shapes[shape]
	switch s.Type {
	case "string":
		str := val.String()
		n := utf8.RuneCountInString(str)
		if s.Min != nil && float64(n) < *s.Min {
			return fail(path, fmt.Sprintf("Member must have length greater than or equal to %d", int(*s.Min)))
		}
		if s.Max != nil && float64(n) > *s.Max {
			return fail(path, fmt.Sprintf("Member must have length less than or equal to %d", int(*s.Max)))
		}
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			return fail(path, fmt.Sprintf("Member must satisfy enum value set: [%s]", strings.Join(s.Enum, ", ")))
		}
		if s.Pattern != "" {
			re, err := v.regexp(s.Pattern)
			if err == nil && !re.MatchString(str) {
				return fail(path, "Member must satisfy regular expression pattern: "+s.Pattern)
			}
		}
	case "integer", "long":
		n := float64(val.Int())
		if s.Min != nil && n < *s.Min {
			return fail(path, fmt.Sprintf("Member must have value greater than or equal to %d", int64(*s.Min)))
		}
		if s.Max != nil && n > *s.Max {
			return fail(path, fmt.Sprintf("Member must have value less than or equal to %d", int64(*s.Max)))
		}
	}
	return nil
}

func size(s *awsmodel.Shape, n int, path string) error {
	if s.Min != nil && float64(n) < *s.Min {
		return fail(path, fmt.Sprintf("Member must have length greater than or equal to %d", int(*s.Min)))
	}
	if s.Max != nil && float64(n) > *s.Max {
		return fail(path, fmt.Sprintf("Member must have length less than or equal to %d", int(*s.Max)))
	}
	return nil
}

func (v *Validator) regexp(p string) (*regexp.Regexp, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if re, ok := v.res[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, err
	}
	v.res[p] = re
	return re, nil
}

// fail builds the AWS-style validation message. The value itself is not echoed: members such as
// connector configuration are sensitive.
func fail(path, constraint string) error {
	return apierr.BadRequest(path, "1 validation error detected: Value at '%s' failed to satisfy constraint: %s", path, constraint)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
