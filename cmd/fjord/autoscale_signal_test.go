package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	kctypes "github.com/aws/aws-sdk-go-v2/service/kafkaconnect/types"
	"github.com/jackc/pgx/v5/pgxpool"
)

// observationJSON is `fjord workloads describe --output json`'s desired.autoscaleObservation.
type observationJSON struct {
	Time               string    `json:"time"`
	Window             string    `json:"window"`
	ThirdCPUPercent    []float64 `json:"thirdCpuPercent"`
	ThirdSamples       []int     `json:"thirdSamples"`
	ScaleOutCPUPercent float64   `json:"scaleOutCpuPercent"`
	ScaleInCPUPercent  float64   `json:"scaleInCpuPercent"`
	Decision           string    `json:"decision"`
	Reason             string    `json:"reason"`
	Workers            int       `json:"workers"`
}

// cliObservation runs `fjord workloads describe --output json` and returns what the
// autoscaler last saw of the workload (nil when nothing yet).
func (f *fleet) cliObservation(t *testing.T, arn string) *observationJSON {
	t.Helper()
	out := runFjord(t, f.bin, "workloads", "describe", arn, "--server", f.srv.grpcAddr, "--output", "json")
	var d struct {
		Desired struct {
			AutoscaleObservation *observationJSON `json:"autoscaleObservation"`
		} `json:"desired"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("workloads describe printed %q: %v", out, err)
	}
	return d.Desired.AutoscaleObservation
}

// TestAutoscaleDefaultSamplingE2E: `fjord server --autoscale-window 10s` with `fjord agent`
// processes left at their default --metrics-interval (5s, longer than a third of the window)
// still scales an autoscaled connector out under load: the server tells the agents to measure
// workers every sixth of the window.
func TestAutoscaleDefaultSamplingE2E(t *testing.T) {
	t.Parallel()
	f := startFleet(t, 3*time.Second, "--autoscale-window", "10s", "--autoscale-cooldown", "10s")
	f.startAgent(t, "signal-a", 4) // default --metrics-interval
	f.startAgent(t, "signal-b", 4)
	checkAutoscaleSignal(t, f, "signal", true)
}

// TestAutoscaleDevE2E: what a new user tries, `fjord dev --autoscale-window 10s` with its
// in-process agents at the default --metrics-interval, scales out under load; its banner says
// how often CPU is sampled.
func TestAutoscaleDevE2E(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	dataDir := filepath.Join(reachableTempDir(t), "dev")
	d := startDev(t, bin, dataDir, "--agents", "2", "--agent-mcu", "2", "--autoscale-window", "10s", "--autoscale-cooldown", "10s")
	if want := "window 10s (CPU sampled every 1.667s), cooldown 10s"; !strings.Contains(d.stdout.String(), want) {
		t.Errorf("banner lacks %q:\n%s", want, d.stdout)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "s3", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "s3", "plugins", "mm2.zip"), pluginZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	dbURL, err := os.ReadFile(filepath.Join(dataDir, "database.url"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgxpool.New(t.Context(), strings.TrimSpace(string(dbURL)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &fleet{bin: bin, db: db, api: newAPIClients(t, d.http), src: d.source, tgt: d.target,
		srv: &fjordServer{httpAddr: d.http, grpcAddr: d.grpc}}
	// fjord dev's in-memory clusters drop old records (--kafka-retention-bytes) under this load:
	// the target's completeness is TestAutoscaleDefaultSamplingE2E's to check.
	checkAutoscaleSignal(t, f, "devsignal", false)
	d.sigterm(t)
}

// checkAutoscaleSignal runs an autoscaled MirrorSource connector (1–2 workers, out above 10 %
// CPU, in below 5 %) on a fleet whose autoscale window and cooldown are 10 s and whose agents
// sample at their default interval. Idle, `fjord workloads describe` shows what the autoscaler
// saw (each third's CPU mean and sample count against the thresholds, its verdict); under load
// the connector scales out to two workers; each worker was sampled every sixth of the window.
// With complete, the target must then hold every source record, in order.
func checkAutoscaleSignal(t *testing.T, f *fleet, name string, complete bool) {
	t.Helper()
	const window = 10 * time.Second
	plugin := f.customPlugin(t)
	topics := []string{name + ".0", name + ".1"}
	createTopics(t, f.src, 6, topics...)
	prod := newProducer(t, f.src)
	c := newCorpus()
	arn := f.createConnectorWith(t, plugin, name+"-mirror", &kctypes.Capacity{AutoScaling: &kctypes.AutoScaling{
		McuCount: 1, MinWorkerCount: 1, MaxWorkerCount: 2,
		ScaleOutPolicy: &kctypes.ScaleOutPolicy{CpuUtilizationPercentage: 10},
		ScaleInPolicy:  &kctypes.ScaleInPolicy{CpuUtilizationPercentage: 5},
	}}, f.mirrorSourceConfig(name+`\..*`, nil))
	f.waitConnector(t, arn, kctypes.ConnectorStateRunning, time.Minute)
	t.Cleanup(func() {
		if t.Failed() { // why did it not scale?
			t.Logf("workloads describe:\n%s", runFjord(t, f.bin, "workloads", "describe", arn, "--server", f.srv.grpcAddr))
		}
	})

	// Idle: once a window has passed, every third holds two samples or more (at the agents'
	// default of one sample each 5 s, a third of 3.3 s never holds two), and the autoscaler says
	// why it does not scale (one worker is the minimum, or the cooldown).
	var idle *observationJSON
	poll(t, time.Minute, "an observation with two samples or more in every third", func() bool {
		o := f.cliObservation(t, arn)
		if o == nil || len(o.ThirdSamples) != 3 || slices.Min(o.ThirdSamples) < 2 {
			return false
		}
		idle = o
		return true
	})
	t.Logf("idle: thirds %.1f%% %.1f%% %.1f%% from %v samples; %s: %s", idle.ThirdCPUPercent[0], idle.ThirdCPUPercent[1],
		idle.ThirdCPUPercent[2], idle.ThirdSamples, idle.Decision, idle.Reason)
	if idle.Window != "10s" || idle.ScaleOutCPUPercent != 10 || idle.ScaleInCPUPercent != 5 || idle.Workers != 1 || idle.Reason == "" ||
		(idle.Decision != "hold" && idle.Decision != "wait") {
		t.Errorf("idle observation %+v", idle)
	}
	text := runFjord(t, f.bin, "workloads", "describe", arn, "--server", f.srv.grpcAddr)
	saw := regexp.MustCompile(`Autoscaler saw:\s+\S+, window 10s: CPU by third \d+\.\d% \(\d+ samples\), \d+\.\d% \(\d+\), \d+\.\d% \(\d+\); scale out above 10%, in below 5%`)
	if !saw.MatchString(text) || !regexp.MustCompile(`Autoscaler verdict:\s+(hold|wait): \S`).MatchString(text) {
		t.Errorf("workloads describe does not show what the autoscaler saw:\n%s", text)
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "Autoscal") {
			t.Logf("describe: %s", line)
		}
	}

	// Load: the autoscaler sees each third above 10 % and adds the second worker.
	t0 := time.Now()
	s := c.stream(t, prod, topics, 6, 150)
	defer s.halt(t)
	poll(t, 2*time.Minute, "a second worker under load", func() bool {
		n, _ := f.runningWorkers(t, arn)
		return n >= 2
	})
	t.Logf("scale-out: second worker RUNNING %.1f s after the load started (window and cooldown %s)", time.Since(t0).Seconds(), window)
	ev := f.workloadEvents(t, arn, "autoscale")
	if !slices.ContainsFunc(ev, func(r string) bool { return strings.HasPrefix(r, "scale out to 2 workers") }) {
		t.Errorf("autoscale events %q: want a scale out to 2 workers", ev)
	}
	for _, e := range ev {
		t.Logf("event: %s", e)
	}
	// The measured interval: the median gap between a worker's consecutive samples.
	rows, err := f.db.Query(t.Context(), `SELECT extract(epoch FROM at - lag(at) OVER (PARTITION BY worker_id ORDER BY at))
		FROM worker_samples WHERE workload_arn = $1`, arn)
	if err != nil {
		t.Fatal(err)
	}
	var gaps []float64
	for rows.Next() {
		var g *float64
		if err := rows.Scan(&g); err != nil {
			t.Fatal(err)
		}
		if g != nil {
			gaps = append(gaps, *g)
		}
	}
	rows.Close()
	slices.Sort(gaps)
	if len(gaps) < 5 {
		t.Fatalf("%d sample gaps", len(gaps))
	}
	median := gaps[len(gaps)/2]
	t.Logf("%d samples; median gap %.2f s (a sixth of the window: %.2f s)", len(gaps)+1, median, (window / 6).Seconds())
	if median > 2.2 || median < 1.2 {
		t.Errorf("median gap between a worker's samples %.2f s, want about %.2f s", median, (window / 6).Seconds())
	}
	o := f.cliObservation(t, arn)
	if o == nil || o.Workers != 2 {
		t.Errorf("observation after the scale-out: %+v", o)
	} else {
		t.Logf("after the scale-out: %s: %s", o.Decision, o.Reason)
	}
	s.halt(t)
	if !complete {
		return
	}
	check := newMirrorCheck(t, c, f.tgt, func(topic string) string { return "east." + topic }, `^east\.`+name+`\.`)
	check.waitComplete(t, 2*time.Minute, "every source record on the target")
}

// TestAutoscaleWindowRefused: a window too short to hold samples in each third is refused
// at start, with the reason, before `fjord dev` creates anything.
func TestAutoscaleWindowRefused(t *testing.T) {
	t.Parallel()
	bin := buildFjord(t)
	dataDir := filepath.Join(t.TempDir(), "dev")
	for _, args := range [][]string{
		{"server", "--autoscale-window", "900ms"},
		{"dev", "--autoscale-window", "500ms", "--data-dir", dataDir},
	} {
		cmd := exec.CommandContext(t.Context(), bin, args...)
		cmd.Env = childEnv()
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("fjord %s: %v, want a failure\n%s", strings.Join(args, " "), err, out)
		}
		if want := "--autoscale-window must be at least 1s, got " + args[2]; !strings.Contains(string(out), want) ||
			!strings.Contains(string(out), "each third of the window needs CPU samples") {
			t.Errorf("fjord %s printed %q, want %q with the reason", strings.Join(args, " "), out, want)
		}
	}
	if matches, _ := filepath.Glob(dataDir); len(matches) != 0 {
		t.Errorf("fjord dev created %s before refusing its flags", dataDir)
	}
}
