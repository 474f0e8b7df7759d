package mysql

import (
	"fmt"
	"strings"
	"sync"

	"vitess.io/vitess/go/vt/sqlparser"
)

var (
	parserOnce sync.Once
	ddlParser  *sqlparser.Parser
)

func parser() *sqlparser.Parser {
	parserOnce.Do(func() {
		p, err := sqlparser.New(sqlparser.Options{MySQLServerVersion: "8.0.40"})
		if err != nil {
			panic(err) // a constant version
		}
		ddlParser = p
	})
	return ddlParser
}

// applyDDL applies a DDL statement to the table definitions as of the statement, as
// Debezium's DDL parser does: CREATE TABLE (also LIKE), ALTER TABLE (columns, primary key,
// rename), DROP TABLE, RENAME TABLE, DROP DATABASE. It returns the changes and the new
// definitions (nil: dropped) by <db>.<table>; handled is false for a statement it does not
// know how to apply (the caller reads the live schemas instead).
func applyDDL(defs map[string]*TableDef, db, sql string, mariadb bool) (changes []TableChange, updated map[string]*TableDef, handled bool) {
	stmt, err := parser().Parse(sql)
	if err != nil {
		return nil, nil, false
	}
	updated = map[string]*TableDef{}
	name := func(t sqlparser.TableName) (string, string) {
		d := t.Qualifier.String()
		if d == "" {
			d = db
		}
		return d, t.Name.String()
	}
	get := func(id string) *TableDef {
		if d, ok := updated[id]; ok {
			return d
		}
		return defs[id]
	}
	switch s := stmt.(type) {
	case *sqlparser.CreateTable:
		if s.Select != nil {
			return nil, nil, false
		}
		d, t := name(s.Table)
		id := d + "." + t
		if s.IfNotExists && get(id) != nil {
			return nil, updated, true
		}
		var def *TableDef
		if s.OptLike != nil {
			ld, lt := name(s.OptLike.LikeTable)
			src := get(ld + "." + lt)
			if src == nil {
				return nil, nil, false
			}
			def = copyDef(src)
		} else {
			if s.TableSpec == nil {
				return nil, nil, false
			}
			def = &TableDef{PrimaryKeyColumnNames: []string{}, Attributes: []any{}}
			for _, o := range s.TableSpec.Options {
				if strings.EqualFold(o.Name, "CHARSET") || strings.EqualFold(o.Name, "CHARACTER SET") || strings.EqualFold(o.Name, "DEFAULT CHARSET") {
					cs := strings.ToLower(o.String)
					def.DefaultCharsetName = &cs
				}
			}
			for _, idx := range s.TableSpec.Indexes {
				if idx.Info.Type == sqlparser.IndexTypePrimary {
					for _, c := range idx.Columns {
						def.PrimaryKeyColumnNames = append(def.PrimaryKeyColumnNames, c.Column.String())
					}
				}
			}
			for _, cd := range s.TableSpec.Columns {
				if cd.Type.Options != nil && cd.Type.Options.KeyOpt == sqlparser.ColKeyPrimary {
					def.PrimaryKeyColumnNames = append(def.PrimaryKeyColumnNames, cd.Name.String())
				}
			}
			for _, cd := range s.TableSpec.Columns {
				def.Columns = append(def.Columns, columnOf(cd, inList(def.PrimaryKeyColumnNames, cd.Name.String()), mariadb))
			}
			renumber(def)
			defaultCharsets(def)
		}
		updated[id] = def
		typ := "CREATE"
		if defs[id] != nil {
			typ = "ALTER"
		}
		changes = append(changes, TableChange{Type: typ, ID: tableID(d, t), Table: def})
	case *sqlparser.AlterTable:
		d, t := name(s.Table)
		id := d + "." + t
		old := get(id)
		if old == nil {
			return nil, updated, true // a table not kept
		}
		def := copyDef(old)
		newID, nd, nt := id, d, t
		for _, o := range s.AlterOptions {
			switch a := o.(type) {
			case *sqlparser.AddColumns:
				at := len(def.Columns)
				if a.First {
					at = 0
				} else if a.After != nil {
					if i := colIndex(def, a.After.Name.String()); i >= 0 {
						at = i + 1
					}
				}
				for k, cd := range a.Columns {
					c := columnOf(cd, false, mariadb)
					def.Columns = append(def.Columns[:at+k], append([]Column{c}, def.Columns[at+k:]...)...)
				}
			case *sqlparser.DropColumn:
				n := a.Name.Name.String()
				if i := colIndex(def, n); i >= 0 {
					def.Columns = append(def.Columns[:i], def.Columns[i+1:]...)
				}
				def.PrimaryKeyColumnNames = without(def.PrimaryKeyColumnNames, n)
			case *sqlparser.ModifyColumn:
				if !replaceColumn(def, a.NewColDefinition.Name.String(), a.NewColDefinition, a.First, a.After, mariadb) {
					return nil, nil, false
				}
			case *sqlparser.ChangeColumn:
				oldName := a.OldColumn.Name.String()
				if !replaceColumn(def, oldName, a.NewColDefinition, a.First, a.After, mariadb) {
					return nil, nil, false
				}
				for i, k := range def.PrimaryKeyColumnNames {
					if strings.EqualFold(k, oldName) {
						def.PrimaryKeyColumnNames[i] = a.NewColDefinition.Name.String()
					}
				}
			case *sqlparser.RenameColumn:
				oldName, newName := a.OldName.Name.String(), a.NewName.Name.String()
				if i := colIndex(def, oldName); i >= 0 {
					def.Columns[i].Name = newName
				}
				for i, k := range def.PrimaryKeyColumnNames {
					if strings.EqualFold(k, oldName) {
						def.PrimaryKeyColumnNames[i] = newName
					}
				}
			case *sqlparser.AlterColumn:
				if i := colIndex(def, a.Column.Name.String()); i >= 0 {
					c := &def.Columns[i]
					if a.DropDefault {
						c.DefaultValueExpression, c.HasDefaultValue = nil, c.Optional
					} else if a.DefaultVal != nil {
						c.DefaultValueExpression, c.HasDefaultValue = defaultOf(a.DefaultVal), true
					}
				}
			case *sqlparser.AddIndexDefinition:
				if a.IndexDefinition.Info.Type == sqlparser.IndexTypePrimary {
					def.PrimaryKeyColumnNames = nil
					for _, c := range a.IndexDefinition.Columns {
						def.PrimaryKeyColumnNames = append(def.PrimaryKeyColumnNames, c.Column.String())
						if i := colIndex(def, c.Column.String()); i >= 0 {
							def.Columns[i].Optional = false
						}
					}
				}
			case *sqlparser.DropKey:
				if a.Type == sqlparser.PrimaryKeyType {
					def.PrimaryKeyColumnNames = []string{}
				}
			case *sqlparser.RenameTableName:
				nd, nt = name(a.Table)
				newID = nd + "." + nt
			}
		}
		renumber(def)
		defaultCharsets(def)
		if newID != id {
			updated[id] = nil
			changes = append(changes, TableChange{Type: "DROP", ID: tableID(d, t)})
			changes = append(changes, TableChange{Type: "CREATE", ID: tableID(nd, nt), Table: def})
		} else {
			changes = append(changes, TableChange{Type: "ALTER", ID: tableID(d, t), Table: def})
		}
		updated[newID] = def
	case *sqlparser.DropTable:
		for _, tn := range s.FromTables {
			d, t := name(tn)
			if get(d+"."+t) != nil {
				updated[d+"."+t] = nil
				changes = append(changes, TableChange{Type: "DROP", ID: tableID(d, t)})
			}
		}
	case *sqlparser.RenameTable:
		for _, p := range s.TablePairs {
			fd, ft := name(p.FromTable)
			td, tt := name(p.ToTable)
			src := get(fd + "." + ft)
			if src == nil {
				continue
			}
			updated[fd+"."+ft] = nil
			updated[td+"."+tt] = src
			changes = append(changes, TableChange{Type: "DROP", ID: tableID(fd, ft)}, TableChange{Type: "CREATE", ID: tableID(td, tt), Table: src})
		}
	case *sqlparser.DropDatabase:
		d := s.DBName.String()
		for id := range defs {
			if strings.HasPrefix(id, d+".") && get(id) != nil {
				updated[id] = nil
				_, t, _ := strings.Cut(id, ".")
				changes = append(changes, TableChange{Type: "DROP", ID: tableID(d, t)})
			}
		}
	case *sqlparser.CreateDatabase, *sqlparser.AlterDatabase:
	default:
		return nil, nil, false
	}
	return changes, updated, true
}

func inList(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func without(l []string, s string) []string {
	out := []string{}
	for _, x := range l {
		if !strings.EqualFold(x, s) {
			out = append(out, x)
		}
	}
	return out
}

func colIndex(def *TableDef, n string) int {
	for i, c := range def.Columns {
		if strings.EqualFold(c.Name, n) {
			return i
		}
	}
	return -1
}

func renumber(def *TableDef) {
	for i := range def.Columns {
		def.Columns[i].Position = i + 1
	}
}

func copyDef(d *TableDef) *TableDef {
	c := *d
	c.Columns = append([]Column(nil), d.Columns...)
	c.PrimaryKeyColumnNames = append([]string{}, d.PrimaryKeyColumnNames...)
	return &c
}

// replaceColumn puts cd in place of column oldName (moved when first or after say so).
func replaceColumn(def *TableDef, oldName string, cd *sqlparser.ColumnDefinition, first bool, after *sqlparser.ColName, mariadb bool) bool {
	i := colIndex(def, oldName)
	if i < 0 {
		return false
	}
	c := columnOf(cd, inList(def.PrimaryKeyColumnNames, oldName), mariadb)
	if !first && after == nil {
		def.Columns[i] = c
		return true
	}
	def.Columns = append(def.Columns[:i], def.Columns[i+1:]...)
	at := 0
	if after != nil {
		if j := colIndex(def, after.Name.String()); j >= 0 {
			at = j + 1
		}
	}
	def.Columns = append(def.Columns[:at], append([]Column{c}, def.Columns[at:]...)...)
	return true
}

func defaultOf(e sqlparser.Expr) *string {
	switch v := e.(type) {
	case *sqlparser.NullVal:
		return nil
	case *sqlparser.Literal:
		s := v.Val
		return &s
	case sqlparser.BoolVal:
		s := "0"
		if v {
			s = "1"
		}
		return &s
	}
	s := sqlparser.String(e)
	return &s
}

// columnOf is a column from its definition in a DDL statement, described as
// information_schema would describe it (infoColumn), so that the schemas of the snapshot and
// of the binlog's DDL agree.
func columnOf(cd *sqlparser.ColumnDefinition, inPK bool, mariadb bool) Column {
	ct := cd.Type
	typ := strings.ToLower(ct.Type)
	switch typ {
	case "integer":
		typ = "int"
	case "bool", "boolean":
		typ = "tinyint"
		one := 1
		ct.Length = &one
	case "dec", "numeric", "fixed":
		typ = "decimal"
	case "double precision", "real":
		typ = "double"
	case "nchar", "national char":
		typ = "char"
	case "nvarchar", "national varchar":
		typ = "varchar"
	case "json":
		if mariadb {
			typ = "longtext" // MariaDB's JSON is an alias of LONGTEXT
		}
	case "serial":
		typ = "bigint"
		ct.Unsigned = true
	}
	colType := typ
	var charMax, numPrec, numScale, dtPrec *int64
	i64 := func(p *int) *int64 {
		if p == nil {
			return nil
		}
		v := int64(*p)
		return &v
	}
	switch typ {
	case "enum", "set":
		vals := make([]string, len(ct.EnumValues))
		for i, v := range ct.EnumValues {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
				v = v[1 : len(v)-1]
			}
			vals[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		colType += "(" + strings.Join(vals, ",") + ")"
	case "decimal":
		p, s := int64(10), int64(0)
		if ct.Length != nil {
			p = int64(*ct.Length)
		}
		if ct.Scale != nil {
			s = int64(*ct.Scale)
		}
		numPrec, numScale = &p, &s
		colType += fmt.Sprintf("(%d,%d)", p, s)
	case "bit":
		n := int64(1)
		if ct.Length != nil {
			n = int64(*ct.Length)
		}
		numPrec = &n
		colType += fmt.Sprintf("(%d)", n)
	case "char", "binary":
		n := int64(1)
		if ct.Length != nil {
			n = int64(*ct.Length)
		}
		charMax = &n
		colType += fmt.Sprintf("(%d)", n)
	case "varchar", "varbinary":
		charMax = i64(ct.Length)
		if ct.Length != nil {
			colType += fmt.Sprintf("(%d)", *ct.Length)
		}
	case "time", "datetime", "timestamp":
		dtPrec = i64(ct.Length)
		if dtPrec == nil {
			z := int64(0)
			dtPrec = &z
		}
	case "float", "double":
		if ct.Length != nil {
			colType += fmt.Sprintf("(%d", *ct.Length)
			if ct.Scale != nil {
				colType += fmt.Sprintf(",%d", *ct.Scale)
				numScale = i64(ct.Scale)
			}
			colType += ")"
		}
	default:
		if ct.Length != nil {
			colType += fmt.Sprintf("(%d)", *ct.Length)
		}
	}
	if ct.Unsigned {
		colType += " unsigned"
	}
	if ct.Zerofill {
		colType += " zerofill"
	}
	nullable := !inPK && typ != "serial"
	var dflt *string
	extra := ""
	comment := ""
	if o := ct.Options; o != nil {
		if o.Null != nil {
			nullable = *o.Null
		}
		if o.KeyOpt == sqlparser.ColKeyPrimary {
			nullable = false
		}
		if o.Default != nil {
			if d := defaultOf(o.Default); d != nil {
				q := *d
				if l, ok := o.Default.(*sqlparser.Literal); ok && l.Type == sqlparser.StrVal {
					q = "'" + strings.ReplaceAll(l.Val, "'", "''") + "'"
				}
				dflt = &q
			}
		}
		if o.Autoincrement {
			extra = "auto_increment"
		}
		if o.As != nil {
			extra = "VIRTUAL GENERATED"
		}
		if o.Comment != nil {
			comment = o.Comment.Val
		}
	}
	var charset *string
	if ct.Charset.Name != "" {
		cs := strings.ToLower(ct.Charset.Name)
		charset = &cs
	}
	return infoColumn(cd.Name.String(), 0, dflt, nullable, typ, colType, charMax, numPrec, numScale, dtPrec, charset, extra, comment)
}

// defaultCharsets gives the text columns without a character set the table's.
func defaultCharsets(def *TableDef) {
	if def.DefaultCharsetName == nil {
		return
	}
	for i, c := range def.Columns {
		if c.CharsetName == nil && (c.JdbcType == jdbcChar || c.JdbcType == jdbcVarchar) && c.EnumValues == nil {
			cs := *def.DefaultCharsetName
			def.Columns[i].CharsetName = &cs
		}
	}
}
