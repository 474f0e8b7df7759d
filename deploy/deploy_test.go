// Package deploy holds the files that deploy and watch Fjord (Prometheus rules, Grafana
// dashboards) and the tests that check them: the rules with promtool's unit tests, the
// dashboards against the metric catalogue.
package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fjord-io/fjord/workers/catalog"
)

// promtool returns the path of promtool; a missing one fails the test (CI installs it: Debian's
// prometheus package ships it, see .ci/run).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed (apt-get install -y prometheus): the alert rules cannot be checked")
	}
	return p
}

func runPromtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool %s did not report SUCCESS:\n%s", strings.Join(args, " "), out)
	}
}

var (
	metricRE    = regexp.MustCompile(`\bfjord_[a-z0-9_]+`)
	alertRE     = regexp.MustCompile(`(?m)^\s*- alert: (\w+)`)
	alertNameRE = regexp.MustCompile(`(?m)^\s*alertname: (\w+)`)
)

// catalogued reports whether name is a catalogued metric, or the _bucket, _sum or _count series
// of a catalogued histogram.
func catalogued(name string) bool {
	names := catalog.MetricNames()
	if _, ok := names[name]; ok {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && names[base] == "histogram" {
			return true
		}
	}
	return false
}

// TestPrometheusRules checks the alert rules with promtool and runs their unit tests, and checks
// that every alert has a test and every fjord_ metric the rules use is catalogued.
func TestPrometheusRules(t *testing.T) {
	dir := "prometheus"
	runPromtool(t, dir, "check", "rules", "fjord-alerts.yml")
	runPromtool(t, dir, "test", "rules", "fjord-alerts.test.yml")

	rules, err := os.ReadFile(filepath.Join(dir, "fjord-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(dir, "fjord-alerts.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tested []string
	for _, m := range alertNameRE.FindAllStringSubmatch(string(tests), -1) {
		tested = append(tested, m[1])
	}
	alerts := alertRE.FindAllStringSubmatch(string(rules), -1)
	if len(alerts) < 16 {
		t.Fatalf("only %d alerts in fjord-alerts.yml", len(alerts))
	}
	for _, m := range alerts {
		if !slices.Contains(tested, m[1]) {
			t.Errorf("alert %s has no unit test in fjord-alerts.test.yml", m[1])
		}
	}
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, name := range metricRE.FindAllString(line, -1) {
			if !catalogued(name) {
				t.Errorf("fjord-alerts.yml uses %s, which is not in the metric catalogue (workers/catalog)", name)
			}
		}
	}
}

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a row's
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func (p panel) exprs() []string {
	var out []string
	for _, t := range p.Targets {
		out = append(out, t.Expr)
	}
	for _, c := range p.Panels {
		out = append(out, c.exprs()...)
	}
	return out
}

// grafanaVars are Grafana's variables in a query, replaced to check it as PromQL.
var grafanaVars = regexp.MustCompile(`\$\{?(\w+)\}?`)

// TestGrafanaDashboards: every dashboard parses, every query uses catalogued fjord_ metrics only
// and is valid PromQL (promtool checks the queries as recording rules).
func TestGrafanaDashboards(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("grafana", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"fjord-connector.json", "fjord-fleet.json", "fjord-replicator.json"}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("dashboards %v, want %v", got, want)
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboards\n    rules:\n")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: uid %q, title %q, %d panels", f, d.UID, d.Title, len(d.Panels))
		}
		var exprs []string
		for _, p := range d.Panels {
			pe := p.exprs()
			if len(pe) == 0 && len(p.Panels) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			exprs = append(exprs, pe...)
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				// label_values(metric{…}, label) is Grafana's, not PromQL: check its metric only.
				for _, name := range metricRE.FindAllString(v.Definition, -1) {
					if !catalogued(name) {
						t.Errorf("%s: variable %s uses %s, which is not in the metric catalogue", f, v.Name, name)
					}
				}
			}
		}
		for _, e := range exprs {
			names := metricRE.FindAllString(e, -1)
			if len(names) == 0 {
				t.Errorf("%s: query %q uses no fjord_ metric", f, e)
			}
			for _, name := range names {
				if !catalogued(name) {
					t.Errorf("%s: query %q uses %s, which is not in the metric catalogue (workers/catalog)", f, e, name)
				}
			}
			q := grafanaVars.ReplaceAllStringFunc(e, func(v string) string {
				if strings.Contains(v, "__rate_interval") || strings.Contains(v, "__interval") {
					return "5m"
				}
				return "x"
			})
			n++
			rules.WriteString("      - record: dashboard:query:" + strconv.Itoa(n) + "\n        expr: " + strconv.Quote(q) + "\n")
		}
	}
	if n < 40 {
		t.Fatalf("only %d dashboard queries", n)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "queries.yml"), []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, dir, "check", "rules", "queries.yml")
}
