package postgres

import (
	"testing"
)

func TestDefaultLiteral(t *testing.T) {
	for expr, want := range map[string]string{
		"7": "7", "'abc'::text": "abc", "'it''s'::character varying": "it's", "(-5)": "-5", "true": "t",
		"'12.5'::numeric": "12.5", "nextval('t_id_seq'::regclass)": "", "now()": "", "CURRENT_TIMESTAMP": "",
	} {
		got, ok := defaultLiteral(expr)
		if got != want || ok != (want != "") {
			t.Errorf("defaultLiteral(%q) = %q, %v; want %q", expr, got, ok, want)
		}
	}
}

func TestTextParsers(t *testing.T) {
	iv, err := parseInterval("-1 years -2 mons +3 days -04:05:06.5")
	if err != nil {
		t.Fatal(err)
	}
	if iv.years != -1 || iv.months != -2 || iv.days != 3 || iv.hours != -4 || iv.minutes != -5 || iv.seconds != -6.5 {
		t.Errorf("interval %+v", iv)
	}
	if got := iv.iso(); got != "P-1Y-2M3DT-4H-5M-6.5S" {
		t.Errorf("iso %s", got)
	}
	items, err := parseArray(`{a,"b,c","d\"e",NULL,"NULL"}`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		if it == nil {
			got = append(got, "<nil>")
		} else {
			got = append(got, *it)
		}
	}
	if want := []string{"a", "b,c", `d"e`, "<nil>", "NULL"}; len(got) != len(want) || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] || got[4] != want[4] {
		t.Errorf("array %q, want %q", got, want)
	}
	tm, err := parseTimeTZ("01:00:00.5-03:30")
	if err != nil || formatClock(tm, 0) != "04:30:00.5" {
		t.Errorf("timetz %v %v", formatClock(tm, 0), err)
	}
	ts, err := parseTimestamp("2000-01-01 00:00:00+14", true)
	if err != nil || formatTimestamp(ts, 6) != "1999-12-31T10:00:00.000000" {
		t.Errorf("timestamptz %v %v", formatTimestamp(ts, 6), err)
	}
	if us, err := parseClock("24:00:00"); err != nil || us != 86400e6 {
		t.Errorf("24:00:00 = %d %v", us, err)
	}
}
