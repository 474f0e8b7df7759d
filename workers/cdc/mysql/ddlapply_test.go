package mysql

import (
	"strings"
	"testing"
)

func colNames(d *TableDef) string {
	var n []string
	for _, c := range d.Columns {
		n = append(n, c.Name+":"+c.TypeName)
	}
	return strings.Join(n, ",") + " pk=" + strings.Join(d.PrimaryKeyColumnNames, ",")
}

func TestApplyDDL(t *testing.T) {
	defs := map[string]*TableDef{}
	apply := func(sql string) []TableChange {
		t.Helper()
		ch, up, ok := applyDDL(defs, "inv", sql, true)
		if !ok {
			t.Fatalf("not applied: %s", sql)
		}
		for id, d := range up {
			if d == nil {
				delete(defs, id)
			} else {
				defs[id] = d
			}
		}
		return ch
	}
	ch := apply("CREATE TABLE t (id INT UNSIGNED NOT NULL AUTO_INCREMENT, name VARCHAR(20) DEFAULT 'x', j JSON, b BOOLEAN, PRIMARY KEY (id))")
	if len(ch) != 1 || ch[0].Type != "CREATE" || ch[0].ID != `"inv"."t"` {
		t.Fatalf("changes %+v", ch)
	}
	if got := colNames(defs["inv.t"]); got != "id:INT UNSIGNED,name:VARCHAR,j:LONGTEXT,b:TINYINT pk=id" {
		t.Fatalf("create: %s", got)
	}
	c := defs["inv.t"].Columns
	if c[0].Optional || !c[0].AutoIncremented || !c[1].Optional || c[1].DefaultValueExpression == nil || *c[1].DefaultValueExpression != "x" || *c[1].Length != 20 {
		t.Errorf("columns %+v", c)
	}
	for _, tc := range []struct{ sql, want string }{
		{"ALTER TABLE t ADD COLUMN price DECIMAL(8,2) NOT NULL DEFAULT 0 AFTER id", "id:INT UNSIGNED,price:DECIMAL,name:VARCHAR,j:LONGTEXT,b:TINYINT pk=id"},
		{"ALTER TABLE inv.t DROP COLUMN j, ADD COLUMN e ENUM('a','b') FIRST", "e:ENUM,id:INT UNSIGNED,price:DECIMAL,name:VARCHAR,b:TINYINT pk=id"},
		{"ALTER TABLE t CHANGE COLUMN name title VARCHAR(40), MODIFY b BIT(3)", "e:ENUM,id:INT UNSIGNED,price:DECIMAL,title:VARCHAR,b:BIT pk=id"},
		{"ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (id, e)", "e:ENUM,id:INT UNSIGNED,price:DECIMAL,title:VARCHAR,b:BIT pk=id,e"},
		{"ALTER TABLE t RENAME COLUMN title TO label", "e:ENUM,id:INT UNSIGNED,price:DECIMAL,label:VARCHAR,b:BIT pk=id,e"},
	} {
		apply(tc.sql)
		if got := colNames(defs["inv.t"]); got != tc.want {
			t.Fatalf("%s: %s, want %s", tc.sql, got, tc.want)
		}
	}
	if ev := defs["inv.t"].Columns[0].EnumValues; strings.Join(ev, "|") != "a|b" {
		t.Errorf("enum values %v", ev)
	}
	apply("RENAME TABLE t TO u")
	if defs["inv.t"] != nil || defs["inv.u"] == nil {
		t.Fatalf("rename: %v", defs)
	}
	apply("CREATE TABLE v LIKE u")
	if ch := apply("DROP TABLE IF EXISTS u, v, nothere"); len(ch) != 2 || ch[0].Type != "DROP" {
		t.Fatalf("drop: %+v", ch)
	}
	if len(defs) != 0 {
		t.Fatalf("left %v", defs)
	}
	if _, _, ok := applyDDL(defs, "inv", "CREATE TABLE x AS SELECT 1", true); ok {
		t.Errorf("CREATE TABLE … SELECT is not applied from the statement")
	}
}

func TestApplyDDLCharsets(t *testing.T) {
	_, up, ok := applyDDL(map[string]*TableDef{}, "inv", "CREATE TABLE z (a VARCHAR(3), b VARCHAR(3) CHARACTER SET utf8mb4, n INT) DEFAULT CHARSET=latin1", true)
	if !ok {
		t.Fatal("not applied")
	}
	c := up["inv.z"].Columns
	if c[0].CharsetName == nil || *c[0].CharsetName != "latin1" || *c[1].CharsetName != "utf8mb4" || c[2].CharsetName != nil {
		t.Fatalf("charsets %v %v %v", c[0].CharsetName, c[1].CharsetName, c[2].CharsetName)
	}
}
