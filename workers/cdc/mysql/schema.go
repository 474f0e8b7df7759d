package mysql

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	vtmysql "vitess.io/vitess/go/mysql"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
	"github.com/fjord-io/fjord/workers/connect/data"
)

// Column is one column of a table as Debezium's schema history records it (tableChanges):
// the same JSON field names, so that a history topic written by either reads the same.
type Column struct {
	Name                   string   `json:"name"`
	JdbcType               int      `json:"jdbcType"`
	NativeType             *int     `json:"nativeType,omitempty"`
	TypeName               string   `json:"typeName"`
	TypeExpression         string   `json:"typeExpression"`
	CharsetName            *string  `json:"charsetName"`
	Length                 *int     `json:"length,omitempty"`
	Scale                  *int     `json:"scale,omitempty"`
	Position               int      `json:"position"`
	Optional               bool     `json:"optional"`
	AutoIncremented        bool     `json:"autoIncremented"`
	Generated              bool     `json:"generated"`
	Comment                *string  `json:"comment"`
	HasDefaultValue        bool     `json:"hasDefaultValue"`
	DefaultValueExpression *string  `json:"defaultValueExpression,omitempty"`
	EnumValues             []string `json:"enumValues,omitempty"`
}

// TableDef is a table's definition as the schema history records it.
type TableDef struct {
	DefaultCharsetName    *string  `json:"defaultCharsetName"`
	PrimaryKeyColumnNames []string `json:"primaryKeyColumnNames"`
	Columns               []Column `json:"columns"`
	Attributes            []any    `json:"attributes"`
}

// java.sql.Types codes, as Debezium's MySQL DDL parser assigns them.
const (
	jdbcBit          = -7
	jdbcSmallint     = 5
	jdbcInteger      = 4
	jdbcBigint       = -5
	jdbcFloat        = 6
	jdbcDouble       = 8
	jdbcDecimal      = 3
	jdbcChar         = 1
	jdbcVarchar      = 12
	jdbcBinary       = -2
	jdbcVarbinary    = -3
	jdbcBlob         = 2004
	jdbcDate         = 91
	jdbcTime         = 92
	jdbcTimestamp    = 93
	jdbcTimestampTZ  = 2014
	jdbcOther        = 1111
	jdbcBoolean      = 16
	jdbcLongVarchar  = -1
	jdbcLongVarbinar = -4
)

func intp(v int) *int       { return &v }
func strp(v string) *string { return &v }
func deref(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

var enumRE = regexp.MustCompile(`'((?:[^']|'')*)'`)

// enumValues are the options of enum('a','b') / set('a','b').
func enumValues(columnType string) []string {
	i := strings.IndexByte(columnType, '(')
	if i < 0 {
		return nil
	}
	var out []string
	for _, m := range enumRE.FindAllStringSubmatch(columnType[i:], -1) {
		out = append(out, strings.ReplaceAll(m[1], "''", "'"))
	}
	return out
}

// infoColumn builds a Column from an information_schema.COLUMNS row.
func infoColumn(name string, pos int, dflt *string, nullable bool, dataType, columnType string,
	charMax, numPrec, numScale, dtPrec *int64, charset *string, extra, comment string) Column {
	dt := strings.ToUpper(dataType)
	ct := strings.ToLower(columnType)
	c := Column{Name: name, Position: pos, Optional: nullable, CharsetName: charset, Comment: strp(comment)}
	if comment == "" {
		c.Comment = nil
	}
	unsigned := strings.Contains(ct, "unsigned")
	typeName := dt
	if unsigned {
		typeName += " UNSIGNED"
	}
	if strings.Contains(ct, "zerofill") {
		typeName += " ZEROFILL"
	}
	c.TypeName, c.TypeExpression = typeName, typeName
	width := func() *int {
		if i := strings.IndexByte(ct, '('); i >= 0 {
			if j := strings.IndexAny(ct[i:], ",)"); j > 0 {
				if n, err := strconv.Atoi(ct[i+1 : i+j]); err == nil {
					return intp(n)
				}
			}
		}
		return nil
	}
	switch dt {
	case "TINYINT", "SMALLINT":
		c.JdbcType, c.Length = jdbcSmallint, width()
	case "MEDIUMINT", "INT", "INTEGER", "YEAR":
		c.JdbcType, c.Length = jdbcInteger, width()
	case "BIGINT":
		c.JdbcType, c.Length = jdbcBigint, width()
	case "FLOAT":
		c.JdbcType = jdbcFloat
		if w := width(); w != nil {
			c.Length = w
			if numScale != nil && strings.Contains(ct, ",") {
				c.Scale = intp(int(*numScale))
			}
		}
	case "DOUBLE", "REAL":
		c.JdbcType = jdbcDouble
		if w := width(); w != nil {
			c.Length = w
			if numScale != nil {
				c.Scale = intp(int(*numScale))
			}
		}
	case "DECIMAL", "NUMERIC":
		c.JdbcType = jdbcDecimal
		if numPrec != nil {
			c.Length = intp(int(*numPrec))
		}
		if numScale != nil {
			c.Scale = intp(int(*numScale))
		}
	case "BIT":
		c.JdbcType = jdbcBit
		if numPrec != nil {
			c.Length = intp(int(*numPrec))
		} else {
			c.Length = width()
		}
	case "BOOLEAN", "BOOL":
		c.JdbcType = jdbcBoolean
	case "CHAR":
		c.JdbcType = jdbcChar
		if charMax != nil {
			c.Length = intp(int(*charMax))
		}
	case "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT":
		c.JdbcType = jdbcVarchar
		if dt == "VARCHAR" && charMax != nil {
			c.Length = intp(int(*charMax))
		}
	case "ENUM", "SET":
		c.JdbcType = jdbcChar
		c.EnumValues = enumValues(columnType)
		if c.EnumValues == nil {
			c.EnumValues = []string{}
		}
		c.Length = intp(1)
	case "BINARY":
		c.JdbcType = jdbcBinary
		if charMax != nil {
			c.Length = intp(int(*charMax))
		}
	case "VARBINARY":
		c.JdbcType = jdbcVarbinary
		if charMax != nil {
			c.Length = intp(int(*charMax))
		}
	case "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB":
		c.JdbcType = jdbcBlob
	case "DATE":
		c.JdbcType = jdbcDate
	case "TIME":
		c.JdbcType = jdbcTime
		if dtPrec != nil && *dtPrec > 0 {
			c.Length = intp(int(*dtPrec))
		}
	case "DATETIME":
		c.JdbcType = jdbcTimestamp
		if dtPrec != nil && *dtPrec > 0 {
			c.Length = intp(int(*dtPrec))
		}
	case "TIMESTAMP":
		c.JdbcType = jdbcTimestampTZ
		if dtPrec != nil && *dtPrec > 0 {
			c.Length = intp(int(*dtPrec))
		}
	default: // JSON, GEOMETRY and its kinds, VECTOR, INET4/6, UUID …
		c.JdbcType = jdbcOther
	}
	if c.Length != nil {
		switch dt {
		case "ENUM", "SET":
		default:
			if strings.Contains(dt, "INT") || dt == "DECIMAL" || dt == "NUMERIC" || dt == "BIT" || dt == "CHAR" || dt == "VARCHAR" ||
				dt == "BINARY" || dt == "VARBINARY" || dt == "FLOAT" || dt == "DOUBLE" || dt == "YEAR" {
				c.TypeExpression = typeName
			}
		}
	}
	extra = strings.ToLower(extra)
	c.AutoIncremented = strings.Contains(extra, "auto_increment")
	c.Generated = c.AutoIncremented || strings.Contains(extra, "generated") || strings.Contains(extra, "virtual") || strings.Contains(extra, "persistent") || strings.Contains(extra, "stored")
	if dflt != nil && !strings.EqualFold(*dflt, "NULL") {
		c.HasDefaultValue = true
		d := *dflt
		if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
			d = strings.ReplaceAll(d[1:len(d)-1], "''", "'")
			d = strings.ReplaceAll(d, `\\`, `\`)
		}
		c.DefaultValueExpression = &d
	} else if nullable {
		c.HasDefaultValue = true
	}
	return c
}

// loadTables reads the definitions of the tables of the databases that pass keep, from
// information_schema.
func loadTables(ctx context.Context, conn *vtmysql.Conn, keep func(db, table string) bool, only map[string]bool) (map[string]*TableDef, []string, error) {
	q := `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.ORDINAL_POSITION, c.COLUMN_DEFAULT, c.IS_NULLABLE, c.DATA_TYPE, c.COLUMN_TYPE,
	c.CHARACTER_MAXIMUM_LENGTH, c.NUMERIC_PRECISION, c.NUMERIC_SCALE, c.DATETIME_PRECISION, c.CHARACTER_SET_NAME, c.EXTRA, c.COLUMN_COMMENT, c.COLUMN_KEY,
	t.TABLE_COLLATION
	FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
	WHERE t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`
	if len(only) > 0 {
		var dbs []string
		for db := range only {
			dbs = append(dbs, quoteString(db))
		}
		q += " AND c.TABLE_SCHEMA IN (" + strings.Join(dbs, ",") + ")"
	}
	q += " ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"
	r, err := conn.ExecuteFetch(q, 1<<24, false)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the tables' columns from information_schema: %w", err)
	}
	defs := map[string]*TableDef{}
	var order []string
	for _, row := range r.Rows {
		db, tbl := row[0].ToString(), row[1].ToString()
		if !keep(db, tbl) {
			continue
		}
		id := db + "." + tbl
		d := defs[id]
		if d == nil {
			d = &TableDef{PrimaryKeyColumnNames: []string{}, Attributes: []any{}}
			if coll := row[16].ToString(); coll != "" {
				cs := coll
				if i := strings.IndexByte(coll, '_'); i > 0 {
					cs = coll[:i]
				}
				d.DefaultCharsetName = &cs
			}
			defs[id] = d
			order = append(order, id)
		}
		str := func(i int) *string {
			if row[i].IsNull() {
				return nil
			}
			s := row[i].ToString()
			return &s
		}
		num := func(i int) *int64 {
			if row[i].IsNull() {
				return nil
			}
			n, err := strconv.ParseInt(row[i].ToString(), 10, 64)
			if err != nil {
				return nil
			}
			return &n
		}
		pos, _ := strconv.Atoi(row[3].ToString())
		c := infoColumn(row[2].ToString(), pos, str(4), row[5].ToString() == "YES", row[6].ToString(), row[7].ToString(),
			num(8), num(9), num(10), num(11), str(12), row[13].ToString(), row[14].ToString())
		d.Columns = append(d.Columns, c)
	}
	// Primary keys in key order.
	kq := `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_NAME = 'PRIMARY'
	AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`
	kr, err := conn.ExecuteFetch(kq, 1<<24, false)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the tables' primary keys from information_schema: %w", err)
	}
	for _, row := range kr.Rows {
		if d := defs[row[0].ToString()+"."+row[1].ToString()]; d != nil {
			d.PrimaryKeyColumnNames = append(d.PrimaryKeyColumnNames, row[2].ToString())
		}
	}
	return defs, order, nil
}

func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// table is a known table: its definition, and when captured, its Debezium schemas and the
// converters of its columns.
type table struct {
	db, name string
	def      *TableDef
	// dbz is nil for a table that is not captured.
	dbz *debezium.Table
	// cols are the indexes (into def.Columns) of the columns events carry, conv their
	// converters, in the same order.
	cols []int
	conv []converter
	// out maps a column's index to its index in events (-1: left out); fields are what
	// vitess's binlog decoder needs of each column. Both are built on first use.
	out    []int
	fields []*querypb.Field
	fast   []fastCol
	// dbAny and nameAny are db and name boxed once for source blocks.
	dbAny, nameAny any
}

// buildTable derives a table's schemas from its definition.
func (e *engine) buildTable(db, name string, def *TableDef) (*table, error) {
	t := &table{db: db, name: name, def: def}
	if !e.cfg.CapturesTable(db, name) {
		return t, nil
	}
	id := db + "." + name
	var cols []debezium.Column
	for i, c := range def.Columns {
		if !e.cfg.Columns.Matches(id + "." + c.Name) {
			continue
		}
		s, conv, err := e.columnSchema(c)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", id, c.Name, err)
		}
		t.cols = append(t.cols, i)
		t.conv = append(t.conv, conv)
		cols = append(cols, debezium.Column{Name: c.Name, Schema: s})
	}
	key := def.PrimaryKeyColumnNames
	if custom := e.cfg.KeyColumnsFor(id); custom != nil {
		// message.key.columns: the named columns, in the table's column order (Debezium's
		// custom key mapper filters the table's columns).
		key = nil
		for _, c := range cols {
			for _, k := range custom {
				if strings.EqualFold(k, c.Name) {
					key = append(key, c.Name)
					break
				}
			}
		}
	}
	t.dbz = debezium.NewTable(id, e.cfg.Topic(db, name), cols, key, debezium.MySQLSource)
	return t, nil
}

// jsonColumn is the history's column as a Connect struct (io.debezium.connector.schema.Column).
var (
	changeColumnSchema = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.schema.Column", Version: ver(1), Fields: []data.Field{
		{Name: "name", Schema: data.StringSchema},
		{Name: "jdbcType", Schema: data.Int32Schema},
		{Name: "nativeType", Schema: data.OptionalInt32Schema},
		{Name: "typeName", Schema: data.StringSchema},
		{Name: "typeExpression", Schema: data.OptionalStringSchema},
		{Name: "charsetName", Schema: data.OptionalStringSchema},
		{Name: "length", Schema: data.OptionalInt32Schema},
		{Name: "scale", Schema: data.OptionalInt32Schema},
		{Name: "position", Schema: data.Int32Schema},
		{Name: "optional", Schema: data.OptionalBooleanSchema},
		{Name: "autoIncremented", Schema: data.OptionalBooleanSchema},
		{Name: "generated", Schema: data.OptionalBooleanSchema},
		{Name: "comment", Schema: data.OptionalStringSchema},
		{Name: "defaultValueExpression", Schema: data.OptionalStringSchema},
		{Name: "enumValues", Schema: data.OptionalOf(data.ArrayOf(data.StringSchema))},
	}}
	changeTableSchema = &data.Schema{Type: data.StructType, Optional: true, Name: "io.debezium.connector.schema.Table", Version: ver(1), Fields: []data.Field{
		{Name: "defaultCharsetName", Schema: data.OptionalStringSchema},
		{Name: "primaryKeyColumnNames", Schema: data.OptionalOf(data.ArrayOf(data.StringSchema))},
		{Name: "columns", Schema: data.ArrayOf(changeColumnSchema)},
		{Name: "comment", Schema: data.OptionalStringSchema},
	}}
	changeSchema = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.schema.Change", Version: ver(1), Fields: []data.Field{
		{Name: "type", Schema: data.StringSchema},
		{Name: "id", Schema: data.StringSchema},
		{Name: "table", Schema: changeTableSchema},
	}}
	// SchemaChangeKey and SchemaChangeValue are the schema change topic's schemas.
	SchemaChangeKey = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.mysql.SchemaChangeKey", Version: ver(1), Fields: []data.Field{
		{Name: "databaseName", Schema: data.StringSchema},
	}}
	SchemaChangeValue = &data.Schema{Type: data.StructType, Name: "io.debezium.connector.mysql.SchemaChangeValue", Version: ver(1), Fields: []data.Field{
		{Name: "source", Schema: debezium.MySQLSource},
		{Name: "ts_ms", Schema: data.Int64Schema},
		{Name: "databaseName", Schema: data.OptionalStringSchema},
		{Name: "schemaName", Schema: data.OptionalStringSchema},
		{Name: "ddl", Schema: data.OptionalStringSchema},
		{Name: "tableChanges", Schema: data.ArrayOf(changeSchema)},
	}}
)

func ver(v int32) *int32 { return &v }

// TableChange is one entry of tableChanges.
type TableChange struct {
	Type    string    `json:"type"` // CREATE, ALTER, DROP
	ID      string    `json:"id"`   // "db"."table"
	Table   *TableDef `json:"table,omitempty"`
	Comment *string   `json:"comment"`
}

func tableID(db, name string) string { return `"` + db + `"."` + name + `"` }

// parseTableID splits "db"."table".
func parseTableID(id string) (string, string, bool) {
	if i := strings.Index(id, `"."`); i > 0 && strings.HasPrefix(id, `"`) && strings.HasSuffix(id, `"`) {
		return id[1:i], id[i+3 : len(id)-1], true
	}
	if i := strings.IndexByte(id, '.'); i > 0 {
		return id[:i], id[i+1:], true
	}
	return "", "", false
}

func changeStruct(tc TableChange) *data.Struct {
	s := data.NewStruct(changeSchema)
	s.Values[0], s.Values[1] = tc.Type, tc.ID
	if d := tc.Table; d != nil {
		ts := data.NewStruct(changeTableSchema)
		if d.DefaultCharsetName != nil {
			ts.Values[0] = *d.DefaultCharsetName
		}
		pk := make([]any, len(d.PrimaryKeyColumnNames))
		for i, n := range d.PrimaryKeyColumnNames {
			pk[i] = n
		}
		ts.Values[1] = pk
		cols := make([]any, len(d.Columns))
		for i, c := range d.Columns {
			cs := data.NewStruct(changeColumnSchema)
			v := cs.Values
			v[0], v[1] = c.Name, int32(c.JdbcType)
			if c.NativeType != nil {
				v[2] = int32(*c.NativeType)
			}
			v[3], v[4] = c.TypeName, c.TypeExpression
			if c.CharsetName != nil {
				v[5] = *c.CharsetName
			}
			if c.Length != nil {
				v[6] = int32(*c.Length)
			}
			if c.Scale != nil {
				v[7] = int32(*c.Scale)
			}
			v[8], v[9], v[10], v[11] = int32(c.Position), c.Optional, c.AutoIncremented, c.Generated
			if c.Comment != nil {
				v[12] = *c.Comment
			}
			if c.DefaultValueExpression != nil {
				v[13] = *c.DefaultValueExpression
			}
			if len(c.EnumValues) > 0 {
				ev := make([]any, len(c.EnumValues))
				for j, x := range c.EnumValues {
					ev[j] = x
				}
				v[14] = ev
			}
			cols[i] = cs
		}
		ts.Values[2] = cols
		s.Values[2] = ts
	}
	return s
}
