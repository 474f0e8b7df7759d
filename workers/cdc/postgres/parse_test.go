package postgres

import (
	"testing"

	"github.com/fjord-io/fjord/workers/cdc/debezium"
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

func TestTimestampInfinity(t *testing.T) {
	m := mapper{cfg: &debezium.PostgresConfig{Config: &debezium.Config{TimePrecisionMode: debezium.TimeAdaptive}}}
	_, micro, _ := m.timestamp(6)
	_, milli, _ := m.timestamp(3)
	for in, want := range map[string][2]int64{
		"infinity":  {9223372036825200000, 9223372036825200},
		"-infinity": {-9223372036832400000, -9223372036832400},
	} {
		us, _ := micro([]byte(in))
		ms, _ := milli([]byte(in))
		if us != want[0] || ms != want[1] {
			t.Errorf("%s: %v µs, %v ms; want %v", in, us, ms, want)
		}
	}
}
