package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// colDef is one column as the source (a Relation message or the catalog) lists it.
type colDef struct {
	name   string
	oid    uint32
	typmod int32
}

// relTable is a captured table's schemas and how to turn a source row into an event row.
type relTable struct {
	table        *debezium.Table
	schema, name string
	skip         bool // not captured by the filters
	src          []int
	conv         []converter
}

// catalog reads table and type details with the regular connection.
type catalogReader struct {
	e     *Engine
	conn  *pgx.Conn
	types map[uint32]*pgType
}

// typ resolves a type: enum labels, array element, domain base.
func (c *catalogReader) typ(ctx context.Context, oid uint32, typmod int32) (*pgType, error) {
	if t, ok := c.types[oid]; ok {
		cp := *t
		cp.Typmod = typmod
		if cp.Elem != nil {
			el := *cp.Elem
			el.Typmod = typmod
			cp.Elem = &el
		}
		return &cp, nil
	}
	var typtype, category, name, labels string
	var elem, base uint32
	err := c.conn.QueryRow(ctx, `SELECT t.typtype::text, t.typcategory::text, t.typelem, t.typbasetype, t.typname,
		COALESCE((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
		FROM pg_type t WHERE t.oid = $1`, oid).Scan(&typtype, &category, &elem, &base, &name, &labels)
	if err != nil {
		return nil, fmt.Errorf("look type %d up: %w", oid, err)
	}
	t := &pgType{OID: oid, Name: name}
	switch {
	case typtype == "d" && base != 0:
		bt, err := c.typ(ctx, base, typmod)
		if err != nil {
			return nil, err
		}
		t = bt
	case typtype == "e":
		t.Enum = labels
	case category == "A" && elem != 0:
		et, err := c.typ(ctx, elem, typmod)
		if err != nil {
			return nil, err
		}
		t.Elem = et
	}
	c.types[oid] = t
	return c.typ(ctx, oid, typmod)
}

// columns lists a table's columns from the catalog (the snapshot's source).
func (c *catalogReader) columns(ctx context.Context, relid uint32) ([]colDef, error) {
	// Generated columns are left out, as pgoutput leaves them out.
	rows, err := c.conn.Query(ctx, `SELECT attname, atttypid, atttypmod FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`, relid)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (colDef, error) {
		var d colDef
		err := r.Scan(&d.name, &d.oid, &d.typmod)
		return d, err
	})
}

// table builds a table's schemas for the columns the source lists.
func (c *catalogReader) table(ctx context.Context, relid uint32, schema, name string, cols []colDef) (*relTable, error) {
	e := c.e
	rt := &relTable{schema: schema, name: name}
	if !e.captured(schema, name) {
		rt.skip = true
		return rt, nil
	}
	id := schema + "." + name
	notNull := map[string]bool{}
	defaults := map[string]string{}
	var pk []string
	rows, err := c.conn.Query(ctx, `SELECT a.attname, a.attnotnull, COALESCE((SELECT k.n FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) WHERE k.attnum = a.attnum), 0)::int,
		pg_get_expr(d.adbin, d.adrelid)
		FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.attgenerated = ''
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 3, a.attnum`, relid)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", id, err)
	}
	for rows.Next() {
		var n string
		var nn bool
		var pos int
		var def *string
		if err := rows.Scan(&n, &nn, &pos, &def); err != nil {
			return nil, err
		}
		notNull[n] = nn
		if def != nil {
			defaults[n] = *def
		}
		if pos > 0 {
			pk = append(pk, n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if k := e.cfg.KeyColumnsFor(id); k != nil {
		pk = k
	}
	var columns []debezium.Column
	for i, cd := range cols {
		if !e.cfg.Columns.Matches(id + "." + cd.name) {
			continue
		}
		t, err := c.typ(ctx, cd.oid, cd.typmod)
		if err != nil {
			return nil, err
		}
		s, conv, ok := e.m.column(t)
		if !ok {
			e.log.Warn("column of a type without a mapping left out (include.unknown.datatypes=true keeps it as bytes)", "table", id, "column", cd.name, "type", t.Name)
			continue
		}
		if !notNull[cd.name] {
			s = data.OptionalOf(s)
		}
		if lit, ok := defaultLiteral(defaults[cd.name]); ok {
			if v, err := conv([]byte(lit)); err == nil && v != nil {
				if _, isStruct := v.(*data.Struct); !isStruct {
					cp := *s
					cp.Default = v
					s = &cp
				}
			}
		}
		columns = append(columns, debezium.Column{Name: cd.name, Schema: s})
		rt.src = append(rt.src, i)
		rt.conv = append(rt.conv, conv)
	}
	rt.table = debezium.NewTable(id, e.cfg.Topic(schema, name), columns, pk, debezium.PostgresSourceSchema)
	return rt, nil
}

// row converts a source row (text values, nil for NULL) into the event row.
func (rt *relTable) row(vals [][]byte, unchanged func(i int) bool, placeholder string) ([]any, error) {
	out := make([]any, len(rt.src))
	for i, j := range rt.src {
		s := rt.table.Columns[i].Schema
		switch {
		case unchanged != nil && unchanged(j):
			out[i] = unavailable(s, placeholder)
		case j >= len(vals) || vals[j] == nil:
			out[i] = fallback(s)
		default:
			v, err := rt.conv[i](vals[j])
			if err != nil {
				return nil, fmt.Errorf("column %s.%s.%s: %w", rt.schema, rt.name, rt.table.Columns[i].Name, err)
			}
			switch x := v.(type) {
			case nil:
				v = fallback(s)
			case *data.Struct: // a struct value takes its column's (optional) schema
				x.Schema = s
			case []any:
				for _, el := range x {
					if st, ok := el.(*data.Struct); ok {
						st.Schema = s.Value
					}
				}
			}
			out[i] = v
		}
	}
	return out, nil
}

// defaultLiteral is the text of a constant column default (pg_get_expr of pg_attrdef): a
// number, true/false, or a quoted string with casts ('abc'::text, '5'::numeric); ok is false
// for expressions (nextval(…), now(), …), which Debezium's schemas carry no default for either.
func defaultLiteral(expr string) (string, bool) {
	e := strings.TrimSpace(expr)
	if e == "" {
		return "", false
	}
	// Strip trailing casts.
	for {
		i := strings.LastIndex(e, "::")
		if i < 0 || strings.HasSuffix(e, "'") {
			break
		}
		e = strings.TrimSpace(e[:i])
	}
	if strings.HasPrefix(e, "(") && strings.HasSuffix(e, ")") {
		e = strings.TrimSpace(e[1 : len(e)-1])
	}
	if len(e) >= 2 && e[0] == '\'' && e[len(e)-1] == '\'' {
		return strings.ReplaceAll(e[1:len(e)-1], "''", "'"), true
	}
	if e == "true" || e == "false" {
		return e[:1], true
	}
	if _, err := strconv.ParseFloat(e, 64); err == nil {
		return e, true
	}
	return "", false
}
