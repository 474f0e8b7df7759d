// Package helm holds the tests of the Helm chart (deploy/helm/fjord) and of the Dockerfile's
// build: helm lint and helm template with default and production-like values, every rendered
// object decoded strictly into its Kubernetes API type, and the chart's environment variables
// checked against the flags the binary really has; then the binary built by the Dockerfile's
// own build line runs as the rendered pods would, on a throwaway Postgres.
package helm

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/fjord-io/fjord/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// kinds maps apiVersion/kind to a new value of its Go type.
var kinds = map[string]func() any{
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                            func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PodMonitor":     func() any { return &monitoringv1.PodMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

// helmBin finds helm; its absence fails the test (.ci/run installs it).
func helmBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("helm")
	if err != nil {
		t.Fatalf("helm is not installed (go install helm.sh/helm/v3/cmd/helm@v3.22.0; .ci/run does it): %v", err)
	}
	return p
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// rendered is one rendering of the chart, decoded.
type rendered struct {
	objs map[string]any // "Kind/name" → typed object
}

func (r rendered) get(t *testing.T, key string) any {
	t.Helper()
	o, ok := r.objs[key]
	if !ok {
		keys := make([]string, 0, len(r.objs))
		for k := range r.objs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Fatalf("no %s among the rendered objects %v", key, keys)
	}
	return o
}

// render runs helm lint and helm template on chart with the given values files and --set
// arguments, and decodes every object strictly (an unknown field fails).
func render(t *testing.T, chart string, values []string, sets ...string) rendered {
	t.Helper()
	helm := helmBin(t)
	var extra []string
	for _, v := range values {
		extra = append(extra, "-f", v)
	}
	for _, s := range sets {
		extra = append(extra, "--set", s)
	}
	run(t, "", helm, append([]string{"lint", "--strict", chart}, extra...)...)
	out := run(t, "", helm, append([]string{"template", "fjord", chart, "--namespace", "streaming", "--kube-version", "1.31.0"}, extra...)...)
	r := rendered{objs: map[string]any{}}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered document is not YAML: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			if strings.TrimSpace(stripComments(doc)) != "" {
				t.Fatalf("rendered document without kind:\n%s", doc)
			}
			continue
		}
		mk, ok := kinds[meta.APIVersion+"/"+meta.Kind]
		if !ok {
			t.Fatalf("rendered %s %s: no Go type known for it", meta.APIVersion, meta.Kind)
		}
		obj := mk()
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s %s does not decode strictly into %T: %v\n%s", meta.Kind, meta.Metadata.Name, obj, err, doc)
		}
		key := meta.Kind + "/" + meta.Metadata.Name
		if _, dup := r.objs[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		r.objs[key] = obj
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// buildFjord builds the binary with the Dockerfile's own `go build` line (its output path
// redirected) and checks that the result is static, as distroless/static needs.
func buildFjord(t *testing.T) string {
	t.Helper()
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// The RUN instruction holding `go build`, its line continuations joined.
	text := strings.ReplaceAll(string(df), "\\\n", " ")
	var line string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			line = l
		}
	}
	if line == "" {
		t.Fatal("the Dockerfile has no RUN … go build line")
	}
	cmdline := line[strings.Index(line, "CGO_ENABLED=0"):]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /out/fjord", "./cmd/fjord"} {
		if !strings.Contains(cmdline, want) {
			t.Fatalf("the Dockerfile's build %q lacks %q", cmdline, want)
		}
	}
	bin := filepath.Join(t.TempDir(), "fjord")
	cmdline = strings.Replace(cmdline, "/out/fjord", bin, 1)
	cmdline = strings.ReplaceAll(cmdline, "${VERSION}", "chart-test")
	run(t, "../..", "sh", "-c", cmdline)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the Dockerfile's build is dynamically linked: distroless/static cannot run it")
		}
	}
	return bin
}

// flagEnvs returns the environment variables `fjord <cmd> -h` documents.
func flagEnvs(t *testing.T, bin, cmd string) map[string]bool {
	t.Helper()
	out, _ := exec.Command(bin, cmd, "-h").CombinedOutput() // -h exits non-zero
	envs := map[string]bool{}
	for _, m := range regexp.MustCompile(`\(\$([A-Z0-9_]+)\)`).FindAllStringSubmatch(string(out), -1) {
		envs[m[1]] = true
	}
	if len(envs) < 2 {
		t.Fatalf("fjord %s -h documents no environment variables:\n%s", cmd, out)
	}
	return envs
}

func envOf(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// checkPod checks what every Fjord pod must have: hardened security contexts, no service
// account token, a writable /tmp, and only environment variables the binary reads.
func checkPod(t *testing.T, what string, spec corev1.PodSpec, envs map[string]bool) {
	t.Helper()
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service account token", what)
	}
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext not hardened: %+v", what, psc)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s container %s: securityContext not hardened: %+v", what, c.Name, sc)
		}
		tmp := false
		for _, m := range c.VolumeMounts {
			tmp = tmp || m.MountPath == "/tmp"
		}
		if !tmp {
			t.Errorf("%s container %s has no writable /tmp", what, c.Name)
		}
		for _, e := range c.Env {
			if !envs[e.Name] {
				t.Errorf("%s container %s sets %s, which the binary does not read", what, c.Name, e.Name)
			}
		}
	}
}

func TestChart(t *testing.T) {
	helmBin(t)
	bin := buildFjord(t)
	serverEnv, agentEnv, migrateEnv := flagEnvs(t, bin, "server"), flagEnvs(t, bin, "agent"), flagEnvs(t, bin, "migrate")

	t.Run("default", func(t *testing.T) {
		// Bare `helm template` (Helm's default Kubernetes version) renders too.
		if out := run(t, "", helmBin(t), "template", "fjord", "fjord"); !strings.Contains(out, "kind: StatefulSet") {
			t.Errorf("bare helm template rendered no StatefulSet:\n%s", out)
		}
		r := render(t, "fjord", nil)
		dep := r.get(t, "Deployment/fjord-server").(*appsv1.Deployment)
		if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
			t.Errorf("server replicas = %v, want ≥ 2", dep.Spec.Replicas)
		}
		checkPod(t, "server", dep.Spec.Template.Spec, serverEnv)
		c := dep.Spec.Template.Spec.Containers[0]
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("server readiness is not GET /healthz (the Postgres check): %+v", c.ReadinessProbe)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.TCPSocket == nil {
			t.Errorf("server liveness is not a TCP check: %+v", c.LivenessProbe)
		}
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
			t.Error("server has no preStop sleep")
		}
		if g := dep.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g < 15 {
			t.Errorf("server terminationGracePeriodSeconds = %v", g)
		}
		if e := envOf(c, "DATABASE_URL"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != "fjord-database" || e.ValueFrom.SecretKeyRef.Key != "uri" {
			t.Errorf("with no database value the URL should come from Secret fjord-database/uri: %+v", e)
		}
		pdb := r.get(t, "PodDisruptionBudget/fjord-server").(*policyv1.PodDisruptionBudget)
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("server PDB maxUnavailable = %v", pdb.Spec.MaxUnavailable)
		}
		svc := r.get(t, "Service/fjord-server").(*corev1.Service)
		if len(svc.Spec.Ports) != 2 {
			t.Errorf("server Service ports = %+v", svc.Spec.Ports)
		}
		// The generated secrets: a 32-byte encryption key (base64) and an agent token.
		sec := r.get(t, "Secret/fjord").(*corev1.Secret)
		if k := sec.Data["encryption-key"]; len(k) != 44 {
			t.Errorf("generated encryption key %q is not 32 bytes in base64", k)
		}
		if len(sec.Data["agent-token"]) < 32 {
			t.Error("no generated agent token")
		}
		if sec.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Error("the Secret holding a generated encryption key is not kept on uninstall")
		}

		sts := r.get(t, "StatefulSet/fjord-agent").(*appsv1.StatefulSet)
		checkPod(t, "agent", sts.Spec.Template.Spec, agentEnv)
		ac := sts.Spec.Template.Spec.Containers[0]
		if e := envOf(ac, "FJORD_ID"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
			t.Errorf("agent id is not the pod name: %+v", e)
		}
		if e := envOf(ac, "FJORD_MCU"); e == nil || e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil ||
			e.ValueFrom.ResourceFieldRef.Resource != "requests.cpu" || e.ValueFrom.ResourceFieldRef.Divisor.String() != "1" {
			t.Errorf("agent --mcu is not the CPU request in whole CPUs: %+v", e)
		}
		if e := envOf(ac, "FJORD_SERVER"); e == nil || e.Value != "fjord-server:9090" {
			t.Errorf("agent server address = %+v", e)
		}
		if e := envOf(ac, "FJORD_DRAIN_TIMEOUT"); e == nil || e.Value != "30s" {
			t.Errorf("agent drain timeout = %+v", e)
		}
		if g := sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 30 {
			t.Errorf("agent terminationGracePeriodSeconds = %v, want more than the 30 s drain", g)
		}
		if ac.ReadinessProbe == nil || ac.ReadinessProbe.HTTPGet == nil || ac.ReadinessProbe.HTTPGet.Path != "/readyz" ||
			ac.LivenessProbe == nil || ac.LivenessProbe.HTTPGet == nil || ac.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("agent probes: readiness %+v, liveness %+v", ac.ReadinessProbe, ac.LivenessProbe)
		}
		hs := r.get(t, "Service/fjord-agent").(*corev1.Service)
		if hs.Spec.ClusterIP != "None" || sts.Spec.ServiceName != hs.Name {
			t.Errorf("agent StatefulSet's governing Service is not headless: %q %q", hs.Spec.ClusterIP, sts.Spec.ServiceName)
		}

		job := r.get(t, "Job/fjord-migrate").(*batchv1.Job)
		if !strings.Contains(job.Annotations["helm.sh/hook"], "pre-upgrade") {
			t.Errorf("migration Job hooks = %q", job.Annotations["helm.sh/hook"])
		}
		checkPod(t, "migrate", job.Spec.Template.Spec, migrateEnv)
		if args := job.Spec.Template.Spec.Containers[0].Args; strings.Join(args, " ") != "migrate up" {
			t.Errorf("migration Job args = %v", args)
		}
		for k := range r.objs {
			if strings.HasPrefix(k, "ServiceMonitor/") || strings.HasPrefix(k, "PrometheusRule/") || strings.HasPrefix(k, "ConfigMap/") {
				t.Errorf("%s rendered although monitoring is off by default", k)
			}
		}
	})

	t.Run("production", func(t *testing.T) {
		chart := chartWithMonitoringFiles(t)
		r := render(t, chart, []string{"production-values.yaml"})
		dep := r.get(t, "Deployment/fjord-server").(*appsv1.Deployment)
		checkPod(t, "server", dep.Spec.Template.Spec, serverEnv)
		c := dep.Spec.Template.Spec.Containers[0]
		if !strings.HasSuffix(c.Image, "@sha256:0f9a4d1c2b3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8") {
			t.Errorf("image %q is not pinned by digest", c.Image)
		}
		if e := envOf(c, "DATABASE_URL"); e == nil || e.ValueFrom.SecretKeyRef.Name != "fjord-pg-app" || e.ValueFrom.SecretKeyRef.Key != "uri" {
			t.Errorf("DATABASE_URL = %+v", e)
		}
		if envOf(c, "FJORD_CREDENTIALS_FILE") == nil || envOf(c, "FJORD_LEASE_TTL") == nil {
			t.Error("credentials file or server.env missing")
		}
		if _, ok := r.objs["Secret/fjord"]; ok {
			t.Error("the chart's Secret is rendered although every secret is an existing one")
		}
		sts := r.get(t, "StatefulSet/fjord-agent").(*appsv1.StatefulSet)
		checkPod(t, "agent", sts.Spec.Template.Spec, agentEnv)
		if g := *sts.Spec.Template.Spec.TerminationGracePeriodSeconds; g != 90 {
			t.Errorf("agent terminationGracePeriodSeconds = %d, want 60 s drain + 30 s", g)
		}
		job := r.get(t, "Job/fjord-migrate").(*batchv1.Job)
		checkPod(t, "migrate", job.Spec.Template.Spec, migrateEnv)
		if _, ok := r.objs["Secret/fjord-migrate"]; ok {
			t.Error("hook Secret rendered although the URL is in an existing Secret")
		}
		r.get(t, "ServiceMonitor/fjord-server")
		r.get(t, "PodMonitor/fjord-agent")
		// The repository's rule files (deploy/prometheus) and dashboards (deploy/grafana), when
		// present, render too.
		for _, f := range globBase(t, "../prometheus/*.y*ml") {
			if !strings.Contains(f, ".test.") {
				r.get(t, "PrometheusRule/fjord-"+strings.TrimPrefix(strings.TrimSuffix(strings.TrimSuffix(f, ".yml"), ".yaml"), "fjord-"))
			}
		}
		for _, f := range globBase(t, "../grafana/*.json") {
			r.get(t, "ConfigMap/fjord-dashboard-"+strings.TrimPrefix(strings.TrimSuffix(f, ".json"), "fjord-"))
		}
		for k := range r.objs {
			if strings.Contains(k, ".test") {
				t.Errorf("%s rendered from a promtool test file", k)
			}
		}
		rule := r.get(t, "PrometheusRule/fjord-chart-test-rules").(*monitoringv1.PrometheusRule)
		if len(rule.Spec.Groups) != 1 || len(rule.Spec.Groups[0].Rules) != 1 || rule.Spec.Groups[0].Rules[0].Alert != "FjordChartTest" {
			t.Errorf("PrometheusRule groups = %+v", rule.Spec.Groups)
		}
		cm := r.get(t, "ConfigMap/fjord-dashboard-chart-test").(*corev1.ConfigMap)
		if cm.Namespace != "monitoring" || cm.Labels["grafana_dashboard"] != "1" || !strings.Contains(cm.Data["chart-test.json"], `"title": "chart test"`) {
			t.Errorf("dashboard ConfigMap = %+v", cm)
		}
	})

	t.Run("database-url-value", func(t *testing.T) {
		r := render(t, "fjord", nil, "database.url=postgres://fjord:pw@db:5432/fjord", "agents.enabled=false")
		sec := r.get(t, "Secret/fjord").(*corev1.Secret)
		if string(sec.Data["database-url"]) != "postgres://fjord:pw@db:5432/fjord" {
			t.Errorf("Secret database-url = %q", sec.Data["database-url"])
		}
		if _, ok := sec.Data["agent-token"]; ok {
			t.Error("agent token generated with agents disabled")
		}
		hook := r.get(t, "Secret/fjord-migrate").(*corev1.Secret)
		if !strings.Contains(hook.Annotations["helm.sh/hook"], "pre-upgrade") {
			t.Errorf("the migration's Secret is not a hook: %v", hook.Annotations)
		}
		if _, ok := r.objs["StatefulSet/fjord-agent"]; ok {
			t.Error("agents rendered although disabled")
		}
		dep := r.get(t, "Deployment/fjord-server").(*appsv1.Deployment)
		if envOf(dep.Spec.Template.Spec.Containers[0], "FJORD_AGENT_TOKEN_FILE") != nil {
			t.Error("server given an agent token with agents disabled")
		}
	})

	// The real binaries run with the rendered pods' environment and secret volumes, as the
	// kubelet resolves them, on a real Postgres: the migration Job migrates, a server becomes
	// ready (/healthz pings Postgres) with the chart's generated encryption key, an agent
	// (pod fjord-agent-1, CPU request 1500m) joins it with the generated token under its pod
	// name and 2 MCU, and both exit cleanly on SIGTERM within their grace periods.
	// With agentCA (an operator's CA, here RSA as Helm's genCA makes it) the server imports it
	// and the agent pins it: the server logs that CA's fingerprint.
	podsRun := func(t *testing.T, values []string, caDER []byte) {
		r := render(t, "fjord", values, "agents.resources.requests.cpu=1500m")
		secrets := secretsOf(r)
		secrets["fjord-database"] = map[string][]byte{"uri": []byte(pgtest.URL(t))} // the operator's Secrets
		secrets["fjord-credentials"] = map[string][]byte{"credentials.json": []byte(
			`[{"accessKeyId":"AKIDCHART","secretAccessKey":"chart-secret","accountId":"123456789012"}]`)}

		job := r.get(t, "Job/fjord-migrate").(*batchv1.Job)
		mig := startContainer(t, bin, job.Spec.Template.Spec, job.Spec.Template.Spec.Containers[0], "fjord-migrate-x", secrets, nil)
		if err := mig.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("migration Job failed: %v\n%s", err, mig.logs.String())
		}

		dep := r.get(t, "Deployment/fjord-server").(*appsv1.Deployment)
		httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
		srv := startContainer(t, bin, dep.Spec.Template.Spec, dep.Spec.Template.Spec.Containers[0], "fjord-server-abc", secrets,
			map[string]string{"FJORD_HTTP_ADDR": httpAddr, "FJORD_GRPC_ADDR": grpcAddr})
		awaitStatus(t, srv, httpAddr, "/healthz", http.StatusOK, time.Minute)
		if caDER != nil {
			sum := sha256.Sum256(caDER)
			if want := `"ca_fingerprint":"sha256:` + hex.EncodeToString(sum[:]) + `"`; !strings.Contains(srv.logs.String(), want) {
				t.Errorf("the server does not use the chart's agentCA (%s):\n%s", want, srv.logs.String())
			}
		}

		sts := r.get(t, "StatefulSet/fjord-agent").(*appsv1.StatefulSet)
		agentAddr := freeAddr(t)
		ag := startContainer(t, bin, sts.Spec.Template.Spec, sts.Spec.Template.Spec.Containers[0], "fjord-agent-1", secrets,
			map[string]string{"FJORD_HTTP_ADDR": agentAddr, "FJORD_SERVER": grpcAddr})
		awaitStatus(t, ag, agentAddr, "/healthz", http.StatusOK, 10*time.Second)
		awaitStatus(t, ag, agentAddr, "/readyz", http.StatusOK, 30*time.Second) // joined with the token
		// The server saw the agent under its pod name, offering its CPU request.
		if !regexp.MustCompile(`"msg":"agent connected".*"agent_id":"fjord-agent-1","mcu_capacity":2,`).MatchString(srv.logs.String()) {
			t.Errorf("the server did not log agent fjord-agent-1 with 2 MCU:\n%s", srv.logs.String())
		}

		ag.stop(t, time.Duration(*sts.Spec.Template.Spec.TerminationGracePeriodSeconds)*time.Second)
		srv.stop(t, time.Duration(*dep.Spec.Template.Spec.TerminationGracePeriodSeconds)*time.Second)
	}
	t.Run("pods-run-on-postgres", func(t *testing.T) { podsRun(t, nil, nil) })
	t.Run("pods-run-on-postgres-agent-ca", func(t *testing.T) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fjord-agent-ca"}, IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := json.Marshal(map[string]any{"agentCA": map[string]string{
			"crt": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			"key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		}})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "agent-ca.yaml") // JSON is YAML
		if err := os.WriteFile(file, vals, 0o600); err != nil {
			t.Fatal(err)
		}
		podsRun(t, []string{file}, der)
	})

	// The agents' ids are their pod names, <StatefulSet>-<ordinal>: they must not change with
	// the replica count, an upgrade's values or a new render (nothing random in the name).
	t.Run("stable-agent-ids", func(t *testing.T) {
		var names []string
		for _, sets := range [][]string{{"agents.replicas=2"}, {"agents.replicas=5", "logLevel=debug"}, {"agents.replicas=2"}} {
			sts := render(t, "fjord", nil, sets...).get(t, "StatefulSet/fjord-agent").(*appsv1.StatefulSet)
			names = append(names, fmt.Sprintf("%s/%s", sts.Name, sts.Spec.ServiceName))
		}
		for _, n := range names[1:] {
			if n != names[0] {
				t.Errorf("agent StatefulSet identity changed across renders: %v", names)
			}
		}
	})
}

// proc is a Fjord process started as a pod's container.
type proc struct {
	cmd  *exec.Cmd
	done chan error
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// freeAddr returns a free 127.0.0.1 port.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// startContainer starts bin as container c of pod podName, with the environment and secret
// volumes resolved as the kubelet would: fieldRef metadata.name is podName, resourceFieldRef is
// ceil(request / divisor), secretKeyRef and secret volumes come from secrets (by name), each
// mountPath is a folder under a temporary root (and env values naming a mount point there
// follow it), /tmp is TMPDIR. override replaces env values (listen addresses, server address).
func startContainer(t *testing.T, bin string, spec corev1.PodSpec, c corev1.Container, podName string,
	secrets map[string]map[string][]byte, override map[string]string) *proc {
	t.Helper()
	root := t.TempDir()
	secretOf := func(name, key string) []byte {
		data, ok := secrets[name]
		if !ok {
			t.Fatalf("%s: Secret %s is neither rendered nor provided", c.Name, name)
		}
		v, ok := data[key]
		if !ok {
			t.Fatalf("%s: Secret %s has no key %s", c.Name, name, key)
		}
		return v
	}
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]string{} // mountPath → local folder
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, m := range c.VolumeMounts {
		local := filepath.Join(root, m.MountPath)
		if err := os.MkdirAll(local, 0o700); err != nil {
			t.Fatal(err)
		}
		mounts[m.MountPath] = local
		v := vols[m.Name]
		switch {
		case m.MountPath == "/tmp" && v.EmptyDir != nil:
			env = append(env, "TMPDIR="+local)
		case v.Secret != nil:
			for _, it := range v.Secret.Items {
				if err := os.WriteFile(filepath.Join(local, it.Path), secretOf(v.Secret.SecretName, it.Key), 0o400); err != nil {
					t.Fatal(err)
				}
			}
		case v.Name == "" && m.Name == "state":
			// The StatefulSet's volumeClaimTemplate (a PersistentVolumeClaim): a plain folder.
		default:
			t.Fatalf("%s: volume %s (%s) of an unexpected kind", c.Name, m.Name, m.MountPath)
		}
	}
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			v = podName
		case e.ValueFrom.ResourceFieldRef != nil:
			rf := e.ValueFrom.ResourceFieldRef
			q := c.Resources.Requests[corev1.ResourceName(strings.TrimPrefix(rf.Resource, "requests."))]
			v = strconv.FormatInt((q.MilliValue()+rf.Divisor.MilliValue()-1)/rf.Divisor.MilliValue(), 10)
		case e.ValueFrom.SecretKeyRef != nil:
			v = string(secretOf(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key))
		default:
			t.Fatalf("%s env %s: unexpected valueFrom %+v", c.Name, e.Name, e.ValueFrom)
		}
		for _, m := range c.VolumeMounts {
			if v == m.MountPath || strings.HasPrefix(v, m.MountPath+"/") {
				v = mounts[m.MountPath] + strings.TrimPrefix(v, m.MountPath)
				break
			}
		}
		if o, ok := override[e.Name]; ok {
			v = o
		}
		env = append(env, e.Name+"="+v)
	}
	p := &proc{cmd: exec.Command(bin, c.Args...), done: make(chan error, 1), logs: &syncBuffer{}}
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit within d and returns its error.
func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		return err
	case <-time.After(d):
		t.Fatalf("%s still running after %s; logs:\n%s", p.cmd.Args, d, p.logs.String())
		return nil
	}
}

// stop sends SIGTERM and checks that the process exits cleanly within grace.
func (p *proc) stop(t *testing.T, grace time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, grace); err != nil {
		t.Errorf("%s exited with %v on SIGTERM; logs:\n%s", p.cmd.Args, err, p.logs.String())
	}
}

// status returns the HTTP status of GET http://addr/path, 0 when unreachable.
func status(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// awaitStatus polls until GET path answers want.
func awaitStatus(t *testing.T, p *proc, addr, path string, want int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for status(addr, path) != want {
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never answered %d within %s; logs:\n%s", path, want, d, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// secretsOf collects the rendered Secrets' data by name.
func secretsOf(r rendered) map[string]map[string][]byte {
	out := map[string]map[string][]byte{}
	for _, o := range r.objs {
		if s, ok := o.(*corev1.Secret); ok {
			out[s.Name] = s.Data
		}
	}
	return out
}

func globBase(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	return files
}

// TestStrictDecoding checks the harness itself: a field Kubernetes does not know fails.
func TestStrictDecoding(t *testing.T) {
	doc := []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  clusterIP: None\n  bogusField: 1\n")
	if err := yaml.UnmarshalStrict(doc, &corev1.Service{}); err == nil || !strings.Contains(err.Error(), "bogusField") {
		t.Fatalf("an unknown field decoded without error: %v", err)
	}
	if err := yaml.UnmarshalStrict(doc[:len(doc)-len("  bogusField: 1\n")], &corev1.Service{}); err != nil {
		t.Fatalf("a valid Service failed: %v", err)
	}
}

// chartWithMonitoringFiles copies the chart into a temporary folder with a rule file and a
// dashboard under files/, plus the repository's deploy/prometheus and deploy/grafana files
// when they exist, as a release build does.
func chartWithMonitoringFiles(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "fjord")
	if err := os.CopyFS(dst, os.DirFS("fjord")); err != nil {
		t.Fatal(err)
	}
	write := func(rel, body string) {
		p := filepath.Join(dst, "files", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("prometheus/chart-test-rules.yml", `groups:
  - name: chart-test
    rules:
      - alert: FjordChartTest
        expr: up{job="fjord"} == 0
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.instance }} is down"
`)
	write("grafana/chart-test.json", `{"title": "chart test", "panels": []}`+"\n")
	for src, sub := range map[string]string{"../prometheus/*.y*ml": "prometheus", "../grafana/*.json": "grafana"} {
		files, _ := filepath.Glob(src)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			write(filepath.Join(sub, filepath.Base(f)), string(b))
		}
	}
	return dst
}
