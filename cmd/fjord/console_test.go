package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chromiumPath finds Debian's chromium (or another Chrome) on PATH.
func chromiumPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium on PATH: install it with `apt-get install -y --no-install-recommends chromium` (.ci/run does)")
}

// consoleArtifacts is where the console test writes its screenshots: $FJORD_TEST_ARTIFACTS/console
// (make test sets ./.artifacts), else a temporary directory the test logs.
func consoleArtifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if base := os.Getenv("FJORD_TEST_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, "console")
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("console screenshots in %s", dir)
	return dir
}

// TestConsole drives the web console in headless Chromium against a live fjord dev: sign in,
// a replicator form refused by the API with the error next to the field it names, the same
// form accepted, the replicator RUNNING, records produced to the source flowing in its
// throughput chart, the fleet page, and the replicator deleted; then a custom plugin, and a
// connector refused, created, RUNNING, updated (its operation's steps) and deleted. Each step
// leaves a PNG.
func TestConsole(t *testing.T) {
	t.Parallel()
	chromium, err := chromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	shots := consoleArtifacts(t)
	bin := buildFjord(t)
	d := startDev(t, bin, filepath.Join(reachableTempDir(t), "dev"), "--metrics-interval", "500ms", "--update-validation", "2s")
	if want := "web console      http://" + d.http + "/console/"; !strings.Contains(d.stdout.String(), want) {
		t.Errorf("the banner lacks %q", want)
	}
	const topic = "console-orders"
	createTopics(t, d.source, 3, topic)
	// The connector's plugin: the console lists and describes custom plugins; the API creates them.
	if err := os.MkdirAll(filepath.Join(d.dataDir, "s3", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dataDir, "s3", "plugins", "mm2.zip"), pluginZip(t), 0o644); err != nil {
		t.Fatal(err)
	}
	plugin := (&fleet{api: newAPIClients(t, d.http)}).customPlugin(t)
	var wc struct{ WorkerConfigurationArn string }
	d.aws(t, &wc, "kafkaconnect", "create-worker-configuration", "--name", "console-wc",
		"--properties-file-content", base64.StdEncoding.EncodeToString([]byte("key.converter=org.apache.kafka.connect.storage.StringConverter\n")))

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// Each wait below has its own bound; this one only keeps a stuck browser from hanging.
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	defer cancel()

	// Any uncaught exception or console.error in the page fails the test.
	var jsMu sync.Mutex
	var jsErrors []string
	if err := chromedp.Listen(ctx, func(ev any) {
		jsMu.Lock()
		defer jsMu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			desc := d.Text
			if d.Exception != nil {
				desc += " " + d.Exception.Description
			}
			jsErrors = append(jsErrors, fmt.Sprintf("%s at %s:%d:%d", desc, d.URL, d.LineNumber+1, d.ColumnNumber+1))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value))
				}
				jsErrors = append(jsErrors, "console.error "+strings.Join(parts, " "))
			}
		}
	}); err != nil {
		t.Fatalf("start chromium %s: %v", chromium, err)
	}
	defer func() {
		jsMu.Lock()
		defer jsMu.Unlock()
		for _, e := range jsErrors {
			t.Errorf("page error: %s", e)
		}
	}()

	step := 0
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, shots, fmt.Sprintf("failed-%s", strings.ReplaceAll(what, " ", "-")))
			t.Fatalf("%s: %v", what, err)
		}
	}
	snap := func(name string) {
		t.Helper()
		step++
		shot(t, ctx, shots, fmt.Sprintf("%02d-%s", step, name))
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	waitFor := func(what, js string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
			shot(t, ctx, shots, "failed-"+strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	// checkLabels requires a label for every input of the page.
	checkLabels := func(where string) {
		t.Helper()
		unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("input, select, textarea")].filter(e => !e.labels || e.labels.length === 0).map(e => e.id || e.name)`))
		if err != nil || len(unlabelled) > 0 {
			t.Errorf("inputs without a label on %s: %v (%v)", where, unlabelled, err)
		}
	}
	t0 := time.Now()

	// ---- sign in ----
	do("open the console", chromedp.Navigate("http://"+d.http+"/console/"), chromedp.WaitVisible(chromedp.CSS("#accessKeyId")))
	checkLabels("the sign-in page")
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector("#who")).display !== "none" || getComputedStyle(document.querySelector("#nav")).display !== "none"`)); err != nil || shown {
		t.Errorf("the sign-in page shows the navigation or the sign-out button (%v)", err)
	}
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focused != "accessKeyId" {
		t.Errorf("the sign-in page focuses %q (%v), want the access key id", focused, err)
	}
	self, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]bool]("fjordConsole.selfTest()", chromedp.EvalAwaitPromise))
	if err != nil || !self["rfc4231"] || !self["webcrypto"] || !self["agree"] {
		t.Fatalf("SigV4 self test = %v, %v; want the fallback HMAC right and WebCrypto agreeing", self, err)
	}
	// From the keyboard alone: type the key, Tab to the secret, type a wrong one, Enter. The
	// server's signature check refuses it, shown next to the secret.
	do("sign in with a wrong secret, by keyboard", chromedp.KeyEvent("test"), chromedp.KeyEvent(kb.Tab))
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focused != "secretAccessKey" {
		t.Errorf("Tab from the access key id focuses %q (%v), want the secret", focused, err)
	}
	if outline, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`)); err != nil || outline == "none" || outline == "" {
		t.Errorf("the focused secret field has outline %q (%v), want a visible focus ring", outline, err)
	}
	do("type the wrong secret", chromedp.KeyEvent("wrong"), chromedp.KeyEvent(kb.Enter))
	waitFor("the signature error", `document.querySelector("#secretAccessKey-error").textContent.includes("InvalidSignatureException")`, 10*time.Second)
	snap("signin-wrong-secret")
	do("sign in",
		chromedp.SetValue(chromedp.CSS("#secretAccessKey"), "test"),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor("the connectors page", `document.querySelector("#page-title") && document.querySelector("#page-title").textContent === "Connectors"`, 10*time.Second)
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("fjord.secretAccessKey")`)); err != nil || v != "test" {
		t.Fatalf("secret in sessionStorage = %q, %v", v, err)
	}
	snap("connectors")

	// ---- a bad replicator: the API's message next to the field it names ----
	do("open the replicator form", chromedp.Navigate("http://"+d.http+"/console/#/replicators/new"),
		chromedp.WaitVisible(chromedp.CSS("#replicatorName")))
	checkLabels("the replicator form")
	waitFor("the cluster choices", `document.querySelector("#sourceCluster").value !== "" && document.querySelector("#targetCluster").value !== ""`, 10*time.Second)
	do("submit a bad name",
		chromedp.SendKeys(chromedp.CSS("#replicatorName"), "bad name!"),
		chromedp.SetValue(chromedp.CSS("#topicsToReplicate"), "console-.*"),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor("the error next to the name", `document.querySelector("#replicatorName-error").textContent !== ""`, 10*time.Second)
	msg := text("#replicatorName-error")
	if !strings.Contains(msg, "BadRequestException") || !strings.Contains(msg, "replicatorName") || !strings.Contains(msg, "failed to satisfy constraint") {
		t.Errorf("error next to the name = %q, want the API's validation message naming replicatorName", msg)
	}
	if inv, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#replicatorName"), "aria-invalid")); err != nil || inv.Value != "true" {
		t.Errorf("name field aria-invalid = %+v, %v; want true", inv, err)
	}
	if focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focused != "replicatorName" {
		t.Errorf("focus after the error is on %q (%v), want the name field", focused, err)
	}
	snap("replicator-bad-name")

	// ---- create the replicator ----
	do("submit the replicator",
		chromedp.SetValue(chromedp.CSS("#replicatorName"), "console-rep"),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor("the replicator page", `location.hash.startsWith("#/replicators/arn")`, 10*time.Second)
	do("replicator page", chromedp.WaitVisible(chromedp.CSS("#replicator-state")))
	snap("replicator-created")
	waitFor("RUNNING", `document.querySelector("#replicator-state").textContent === "RUNNING"`, 45*time.Second)
	t.Logf("replicator RUNNING %v after the console opened", time.Since(t0).Round(time.Millisecond))
	snap("replicator-running")

	// ---- records flowing in the chart ----
	prod := openClient(t, d.source, kgo.DefaultProduceTopic(topic))
	defer prod.Close()
	pctx, stopProducing := context.WithCancel(context.Background())
	var produced sync.WaitGroup
	produced.Go(func() {
		for i := 0; pctx.Err() == nil; i++ {
			for j := range 50 {
				prod.Produce(pctx, &kgo.Record{Value: []byte("order-" + strconv.Itoa(i*50+j))}, nil)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	defer func() { stopProducing(); produced.Wait() }()
	// Three samples above zero: a line, not a dot.
	waitFor("records in the throughput chart", `Number(document.querySelector("#replicator-throughput").dataset.nonzeroPoints) >= 3`, 30*time.Second)
	points, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.querySelector("#replicator-throughput").dataset.points)`))
	if err != nil || points <= 0 {
		t.Fatalf("throughput chart data points = %d, %v", points, err)
	}
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#replicator-throughput svg polyline, #replicator-throughput svg circle").length`))
	if err != nil || lines == 0 {
		t.Errorf("throughput chart draws %d lines (%v)", lines, err)
	}
	t.Logf("throughput chart: %d points, latest %q", points, text("#replicator-throughput .latest"))
	do("scroll to the charts", chromedp.ScrollIntoView(chromedp.CSS("#replicator-throughput")))
	snap("replicator-records-flowing")

	// ---- the fleet ----
	do("open the fleet", chromedp.Navigate("http://"+d.http+"/console/#/fleet"))
	waitFor("the agents", `[...document.querySelectorAll("caption")].some(c => /[1-9]\d* agent\(s\)/.test(c.textContent)) && document.body.textContent.includes("console-rep")`, 15*time.Second)
	snap("fleet")

	// ---- delete it ----
	do("back to the replicators", chromedp.Navigate("http://"+d.http+"/console/#/replicators"))
	waitFor("the replicator listed", `document.querySelector("main table") && document.querySelector("main table").textContent.includes("console-rep")`, 10*time.Second)
	do("open the replicator", chromedp.Click(chromedp.CSS(`main table a`)), chromedp.WaitVisible(chromedp.CSS("#delete")))
	do("delete", chromedp.Click(chromedp.CSS("#delete")), chromedp.WaitVisible(chromedp.CSS("#confirm-delete")))
	snap("replicator-confirm-delete")
	do("confirm", chromedp.Click(chromedp.CSS("#confirm-delete")))
	waitFor("the replicators page", `location.hash === "#/replicators"`, 10*time.Second)
	poll(t, 30*time.Second, "the replicator to be deleted", func() bool {
		var out struct {
			Replicators []struct{ ReplicatorName string }
		}
		d.aws(t, &out, "kafka", "list-replicators")
		return len(out.Replicators) == 0
	})
	do("reload the list", chromedp.Reload())
	waitFor("an empty list", `document.querySelector("main caption") && document.querySelector("main caption").textContent === "0 replicator(s)"`, 10*time.Second)
	snap("replicator-deleted")
	// ---- a worker configuration, its properties decoded ----
	do("open the worker configurations", chromedp.Navigate("http://"+d.http+"/console/#/worker-configurations"))
	waitFor("console-wc listed", `document.querySelector("main table") && document.querySelector("main table").textContent.includes("console-wc")`, 10*time.Second)
	do("open console-wc", chromedp.Click(chromedp.CSS(`main table a`)))
	waitFor("its properties", `document.querySelector("main pre") && document.querySelector("main pre").textContent.includes("key.converter=org.apache.kafka.connect.storage.StringConverter")`, 10*time.Second)
	snap("worker-configuration")

	// ---- a connector: a bad input, created, updated (an operation with its steps), deleted ----
	do("open the custom plugins", chromedp.Navigate("http://"+d.http+"/console/#/plugins"))
	waitFor("the plugin listed", `document.querySelector("main table") && document.querySelector("main table").textContent.includes("ACTIVE")`, 10*time.Second)
	do("open the plugin", chromedp.Click(chromedp.CSS(`main table a`)))
	waitFor("what Fjord indexed in the plugin", `document.querySelector("#plugin-index") !== null && document.querySelector("#plugin-index").textContent.includes("Archives read")`, 10*time.Second)
	snap("custom-plugin")

	do("open the connector form", chromedp.Navigate("http://"+d.http+"/console/#/connectors/new"),
		chromedp.WaitVisible(chromedp.CSS("#connectorName")))
	checkLabels("the connector form")
	do("submit a bad MCU count",
		chromedp.SendKeys(chromedp.CSS("#connectorName"), "console-conn"),
		chromedp.SetValue(chromedp.CSS("#customPluginArn"), plugin),
		chromedp.SendKeys(chromedp.CSS("#bootstrapServers"), d.target),
		chromedp.SetValue(chromedp.CSS("#connectorConfiguration"), heartbeatConfig(d, "5")),
		chromedp.SendKeys(chromedp.CSS("#serviceExecutionRoleArn"), "arn:aws:iam::000000000000:role/fjord-connector"),
		chromedp.SetValue(chromedp.CSS("#mcuCount"), "3"),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor("the error next to the MCU count", `document.querySelector("#mcuCount-error").textContent !== ""`, 10*time.Second)
	if msg := text("#mcuCount-error"); !strings.Contains(msg, "BadRequestException") || !strings.Contains(msg, "capacity.provisionedCapacity.mcuCount") {
		t.Errorf("error next to the MCU count = %q, want the API's message naming capacity.provisionedCapacity.mcuCount", msg)
	}
	snap("connector-bad-mcu")
	do("submit the connector", chromedp.SetValue(chromedp.CSS("#mcuCount"), "1"), chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor("the connector page", `location.hash.startsWith("#/connectors/arn") && document.querySelector("#connector-state") !== null`, 10*time.Second)
	waitFor("the connector RUNNING", `document.querySelector("#connector-state").textContent === "RUNNING"`, 45*time.Second)
	snap("connector-running")

	do("open the update form", chromedp.Click(chromedp.CSS(`a[href$="/edit"]`)))
	waitFor("the update form", `document.querySelector("#connectorConfiguration") !== null && document.querySelector("#connectorConfiguration").value.includes("emit.heartbeats.interval.seconds=5")`, 10*time.Second)
	checkLabels("the update form")
	do("update the configuration",
		chromedp.SetValue(chromedp.CSS("#connectorConfiguration"), heartbeatConfig(d, "2")),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	waitFor("the update's operation", `location.hash.startsWith("#/connectors/arn") && !location.hash.endsWith("/edit") && [...document.querySelectorAll("main td")].some(td => td.textContent === "UPDATE_CONNECTOR_CONFIGURATION")`, 20*time.Second)
	waitFor("the update to finish", `document.querySelector("#connector-state").textContent === "RUNNING" && [...document.querySelectorAll("main td")].some(td => td.textContent === "UPDATE_COMPLETE")`, 45*time.Second)
	do("open its steps", chromedp.Click(chromedp.CSS("main details summary")))
	waitFor("the operation's steps", `document.querySelectorAll("main details ol.steps li").length > 0`, 10*time.Second)
	do("show the steps", chromedp.ScrollIntoView(chromedp.CSS("main details")))
	snap("connector-updated-operation-steps")
	waitFor("the updated configuration", `[...document.querySelectorAll("#connector-configuration tr")].some(tr => tr.textContent === "emit.heartbeats.interval.seconds2")`, 10*time.Second)
	do("delete the connector", chromedp.Click(chromedp.CSS("#delete")), chromedp.WaitVisible(chromedp.CSS("#confirm-delete")),
		chromedp.Click(chromedp.CSS("#confirm-delete")))
	waitFor("the connectors page", `location.hash === "#/connectors"`, 10*time.Second)
	poll(t, 30*time.Second, "the connector to be deleted", func() bool {
		var out struct {
			Connectors []struct{ ConnectorName string }
		}
		d.aws(t, &out, "kafkaconnect", "list-connectors")
		return len(out.Connectors) == 0
	})
	do("reload the connectors", chromedp.Reload())
	waitFor("no connector", `document.querySelector("main caption") && document.querySelector("main caption").textContent === "0 connector(s)"`, 10*time.Second)
	snap("connector-deleted")
	t.Logf("console walk-through took %v", time.Since(t0).Round(time.Millisecond))

	// ---- every screenshot is a PNG ----
	files, _ := filepath.Glob(filepath.Join(shots, "*.png"))
	if len(files) != step {
		t.Errorf("%d screenshots in %s, want %d", len(files), shots, step)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() == 0 || img.Bounds().Dy() == 0 {
			t.Errorf("%s is not a non-empty PNG (%d bytes): %v", f, len(b), err)
		}
	}
}

// shot writes a PNG of the whole page to dir/name.png.
func shot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		t.Error(err)
	}
}

// heartbeatConfig is a MirrorHeartbeatConnector between the dev clusters, as the console's
// configuration text area takes it.
func heartbeatConfig(d *devRun, interval string) string {
	return strings.Join([]string{
		"connector.class=" + classHeartbeat,
		"source.cluster.alias=source", "target.cluster.alias=target",
		"source.cluster.bootstrap.servers=" + d.source, "target.cluster.bootstrap.servers=" + d.target,
		"emit.heartbeats.interval.seconds=" + interval,
	}, "\n")
}
