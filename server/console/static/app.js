// Fjord's web console: one page, no build step, no library. Every API call is signed in the
// browser (sigv4.js) with the access key the user signed in with and goes to the same REST
// endpoints the aws CLI calls (kafkaconnect and kafka), or to the admin API's REST face
// (POST /admin/v1/{Operation}) for the fleet, workload events and metrics. The secret stays in
// sessionStorage (this tab only) and is never sent: only signatures are.
"use strict";

(() => {
  // ---------------------------------------------------------------- DOM helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const svgNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs) {
    const el = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }
  // put replaces el's children with kids (flattened; null, undefined and false left out).
  function put(el, ...kids) {
    el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
  }
  const $ = (sel, root) => (root || document).querySelector(sel);
  const main = () => $("#main");
  const status = (msg) => { $("#status").textContent = msg || ""; };
  const alertBox = (msg) => { $("#alert").textContent = msg || ""; };

  function fmtTime(v) {
    if (!v) return "";
    const d = new Date(v);
    return isNaN(d) ? String(v) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }
  function stateEl(v) { return h("span", { class: "state state-" + (v || "") }, v || "—"); }
  function num(v, digits) {
    const n = Number(v);
    if (!isFinite(n)) return "—";
    return digits === undefined ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: digits });
  }
  function table(caption, headers, rows) {
    return h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
        : h("tr", {}, h("td", { colspan: headers.length, class: "muted" }, "None."))));
  }
  function facts(pairs) {
    return h("dl", { class: "facts" }, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== "")
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  }

  // ---------------------------------------------------------------- session

  const store = window.sessionStorage;
  const session = {
    get() {
      const id = store.getItem("fjord.accessKeyId"), secret = store.getItem("fjord.secretAccessKey");
      return id && secret ? { accessKeyId: id, secretAccessKey: secret, region: store.getItem("fjord.region") || "us-east-1" } : null;
    },
    set(c) {
      store.setItem("fjord.accessKeyId", c.accessKeyId);
      store.setItem("fjord.secretAccessKey", c.secretAccessKey);
      store.setItem("fjord.region", c.region);
    },
    clear() { for (const k of ["fjord.accessKeyId", "fjord.secretAccessKey", "fjord.region"]) store.removeItem(k); },
  };

  // ---------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(type, message, param, httpStatus) {
      super(message);
      this.type = type; this.param = param || ""; this.httpStatus = httpStatus;
    }
  }

  // call signs and sends one request; path is escaped as sent, query a list of [name, value].
  async function call(service, method, path, query, body, creds) {
    creds = creds || session.get();
    if (!creds) throw new ApiError("MissingAuthenticationTokenException", "Not signed in.");
    const payload = body === undefined ? "" : JSON.stringify(body);
    const q = (query || []).filter(([, v]) => v !== undefined && v !== null && v !== "");
    const signed = await SigV4.sign({ method, path, query: q, body: payload, host: location.host,
      region: creds.region, service, accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey });
    const qs = q.map(([k, v]) => SigV4.escape(k) + "=" + SigV4.escape(String(v))).join("&");
    const headers = Object.assign({ Accept: "application/json" }, signed);
    if (payload) headers["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(path + (qs ? "?" + qs : ""), { method, headers, body: payload || undefined, cache: "no-store", credentials: "omit" });
    } catch (e) {
      throw new ApiError("NetworkError", "The server could not be reached: " + e.message);
    }
    const text = await resp.text();
    let data = {};
    if (text) { try { data = JSON.parse(text); } catch { data = { message: text }; } }
    if (!resp.ok) {
      const type = resp.headers.get("X-Amzn-ErrorType") || data.code || data.__type || "HTTP " + resp.status;
      throw new ApiError(type.split(":")[0], data.message || data.Message || resp.statusText, data.invalidParameter, resp.status);
    }
    return data;
  }
  const esc = SigV4.escape;
  const kc = (method, path, query, body) => call("kafkaconnect", method, path, query, body);
  const kafka = (method, path, query, body) => call("kafka", method, path, query, body);
  const admin = (op, body) => call("kafkaconnect", "POST", "/admin/v1/" + op, [], body || {});

  // listAll follows nextToken through every page.
  async function listAll(fn, key) {
    let out = [], token;
    do {
      const r = await fn(token);
      out = out.concat(r[key] || []);
      token = r.nextToken;
    } while (token);
    return out;
  }

  // ---------------------------------------------------------------- forms

  let fieldSeq = 0;
  // field builds a labelled input whose errors the API reports under param (a member path as
  // the API names it: "replicatorName", "kafkaClusters.1.amazonMskCluster.mskClusterArn", …).
  function field(o) {
    const id = o.id || "f" + ++fieldSeq;
    const hintId = id + "-hint", errId = id + "-error";
    let input;
    const common = { id, name: o.name || id, "aria-describedby": (o.hint ? hintId + " " : "") + errId,
      dataset: { param: o.param || "" }, required: o.required || undefined };
    if (o.options) {
      input = h("select", common, o.options.map(([v, label]) => h("option", { value: v, selected: v === o.value || undefined }, label)));
    } else if (o.type === "textarea") {
      input = h("textarea", common);
      input.value = o.value || "";
    } else {
      input = h("input", Object.assign(common, { type: o.type || "text", value: o.value ?? "", autocomplete: o.autocomplete || "off",
        spellcheck: "false", min: o.min, max: o.max, placeholder: o.placeholder }));
    }
    const wrap = h("div", { class: "field", id: id + "-field" },
      h("label", { for: id }, o.label, o.required ? h("span", { "aria-hidden": "true" }, " *") : null),
      input,
      o.hint ? h("p", { class: "hint", id: hintId }, o.hint) : null,
      h("p", { class: "field-error", id: errId }));
    if (o.hidden) wrap.hidden = true;
    return wrap;
  }
  const val = (form, name) => {
    const el = form.elements.namedItem(name);
    return el ? el.value.trim() : "";
  };
  const list = (v) => v.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);

  function clearErrors(form) {
    for (const e of form.querySelectorAll(".field-error")) e.textContent = "";
    for (const e of form.querySelectorAll("[aria-invalid]")) e.removeAttribute("aria-invalid");
    const fe = form.querySelector(".form-error");
    if (fe) fe.textContent = "";
  }

  // paramOf is the member an error names: the error's invalidParameter, or the member quoted in
  // a validation message ("Value at 'x.y' failed to satisfy constraint").
  function paramOf(err) {
    if (err.param) return err.param;
    const m = /at '([^']+)'/.exec(err.message || "");
    return m ? m[1] : "";
  }

  // fieldFor picks the input an error belongs to: the field whose param is the error's member,
  // else the one whose param is the longest prefix of it (or it of the param), else the one
  // whose param the message mentions.
  function fieldFor(form, err) {
    const param = paramOf(err).toLowerCase();
    const inputs = Array.from(form.querySelectorAll("[data-param]")).filter((e) => e.dataset.param && !e.closest("[hidden]"));
    const params = (e) => e.dataset.param.toLowerCase().split("|");
    if (param) {
      let best = null, bestLen = -1;
      for (const e of inputs) {
        for (const p of params(e)) {
          if (p === param) return e;
          const l = param.startsWith(p + ".") ? p.length : p.startsWith(param + ".") ? param.length : -1;
          if (l > bestLen) { best = e; bestLen = l; }
        }
      }
      if (best) return best;
    }
    const msg = (err.message || "").toLowerCase();
    let best = null, bestLen = 0;
    for (const e of inputs) {
      for (const p of params(e)) {
        if (p.length > bestLen && msg.includes(p)) { best = e; bestLen = p.length; }
      }
    }
    return best;
  }

  // showError puts an API error next to the field it names (and in the form's summary).
  function showError(form, err) {
    clearErrors(form);
    const text = err.type ? err.type + ": " + err.message : err.message;
    const input = fieldFor(form, err);
    const fe = form.querySelector(".form-error");
    if (input) {
      const errEl = document.getElementById(input.id + "-error");
      errEl.textContent = text;
      input.setAttribute("aria-invalid", "true");
      if (fe) fe.textContent = "The request was refused: see the field marked below.";
      input.focus();
    } else if (fe) {
      fe.textContent = text;
      fe.focus();
    } else {
      alertBox(text);
    }
  }

  async function submitting(form, fn) {
    const btn = form.querySelector("button[type=submit]");
    clearErrors(form);
    alertBox("");
    btn.disabled = true;
    try {
      await fn();
    } catch (e) {
      showError(form, e);
    } finally {
      btn.disabled = false;
    }
  }

  function formShell(title, submitLabel, fields, onSubmit, cancelHref) {
    const form = h("form", { class: "form", novalidate: true, "aria-labelledby": "page-title" },
      h("div", { class: "form-error", tabindex: "-1", role: "alert" }),
      fields,
      h("div", { class: "toolbar" }, h("button", { type: "submit" }, submitLabel),
        cancelHref ? h("a", { class: "button secondary", href: cancelHref }, "Cancel") : null));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); submitting(form, () => onSubmit(form)); });
    return [h("h1", { id: "page-title", tabindex: "-1" }, title), form];
  }

  // confirmDelete is a two-step delete button: the first press asks, the second deletes.
  function confirmDelete(what, onDelete) {
    const wrap = h("span", { class: "toolbar" });
    const ask = h("button", { type: "button", class: "danger", id: "delete" }, "Delete");
    ask.addEventListener("click", () => {
      const yes = h("button", { type: "button", class: "danger", id: "confirm-delete" }, "Delete " + what);
      const no = h("button", { type: "button", class: "secondary" }, "Cancel");
      yes.addEventListener("click", async () => {
        yes.disabled = true;
        try { await onDelete(); } catch (e) { alertBox(e.type + ": " + e.message); yes.disabled = false; }
      });
      no.addEventListener("click", () => { put(wrap, ask); ask.focus(); });
      put(wrap, h("span", {}, "Delete " + what + "?"), yes, no);
      yes.focus();
    });
    wrap.append(ask);
    return wrap;
  }

  // ---------------------------------------------------------------- charts

  const palette = ["#0b5cad", "#d1495b", "#2e933c", "#edae49", "#7b2cbf", "#00798c", "#6c757d", "#c05299"];

  // Chart is a line chart drawn as SVG: one line per series, the last windowMs of samples.
  // Its figure carries data-points (samples kept) and data-nonzero-points (samples > 0), and
  // an accessible description of the latest values.
  class Chart {
    constructor(id, title, unit, windowMs) {
      this.id = id; this.title = title; this.unit = unit; this.windowMs = windowMs || 5 * 60 * 1000;
      this.series = new Map();
      this.latest = h("span", { class: "latest" });
      this.svg = s("svg", { viewBox: "0 0 400 140", preserveAspectRatio: "none", role: "img", "aria-labelledby": id + "-cap" });
      this.legend = h("div", { class: "legend" });
      this.top = h("span", {});
      this.since = h("span", {});
      this.el = h("figure", { class: "chart", id, dataset: { points: "0", nonzeroPoints: "0" } },
        h("figcaption", { id: id + "-cap" }, h("span", {}, title + " (" + unit + ")"), this.latest),
        h("div", { class: "axis", "aria-hidden": "true" }, this.top), this.svg,
        h("div", { class: "axis", "aria-hidden": "true" }, this.since, h("span", {}, "now")), this.legend);
    }
    add(name, t, v) {
      if (!isFinite(v)) return;
      let pts = this.series.get(name);
      if (!pts) { pts = []; this.series.set(name, pts); }
      if (pts.length && pts[pts.length - 1].t >= t) return;
      pts.push({ t, v });
    }
    render() {
      // The x axis spans the samples kept (at least a minute, at most windowMs), ending now.
      const now = Date.now();
      let max = 0, count = 0, nonzero = 0, first = now;
      for (const pts of this.series.values()) {
        while (pts.length && pts[0].t < now - this.windowMs) pts.shift();
        for (const p of pts) { max = Math.max(max, p.v); count++; if (p.v > 0) nonzero++; first = Math.min(first, p.t); }
      }
      const span = Math.max(now - first, 60 * 1000), from = now - span;
      const top = max > 0 ? niceCeil(max) : 1;
      put(this.svg);
      for (let i = 0; i <= 4; i++) {
        const y = 130 - (i * 120) / 4;
        this.svg.append(s("line", { x1: 0, x2: 400, y1: y, y2: y, stroke: "#e5e7eb", "stroke-width": 1 }));
      }
      this.top.textContent = fmtNum(top);
      this.since.textContent = "−" + Math.round(span / 1000) + " s";
      const parts = [];
      put(this.legend);
      let i = 0;
      for (const [name, pts] of this.series) {
        const color = palette[i++ % palette.length];
        const d = pts.map((p) => ((p.t - from) / span * 400).toFixed(1) + "," + (130 - p.v / top * 120).toFixed(1)).join(" ");
        if (pts.length === 1) {
          const [x, y] = d.split(",");
          this.svg.append(s("circle", { cx: x, cy: y, r: 2.5, fill: color }));
        } else if (pts.length > 1) {
          this.svg.append(s("polyline", { points: d, fill: "none", stroke: color, "stroke-width": 2, "vector-effect": "non-scaling-stroke" }));
        }
        if (pts.length) parts.push(name + " " + fmtNum(pts[pts.length - 1].v));
        const key = h("span", {}, name);
        key.style.setProperty("--c", color); // CSSOM, which the Content-Security-Policy allows (a style attribute it does not)
        this.legend.append(key);
      }
      this.el.dataset.points = String(count);
      this.el.dataset.nonzeroPoints = String(nonzero);
      this.latest.textContent = parts.length ? "latest: " + parts.join(", ") : "no samples yet";
      this.svg.setAttribute("aria-label", this.title + ": " + (parts.length ? parts.join(", ") + " " + this.unit : "no samples yet"));
    }
  }
  function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  function fmtNum(v) { return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : Number(v.toFixed(2)).toString(); }

  // MetricCharts turns polled worker metrics into the four charts of a workload or the fleet.
  class MetricCharts {
    constructor(prefix, withLatency) {
      this.throughput = new Chart(prefix + "-throughput", "Throughput", "records/s");
      this.bytes = new Chart(prefix + "-bytes", "Throughput", "bytes/s");
      this.lag = new Chart(prefix + "-lag", "Lag", "records");
      this.latency = withLatency ? new Chart(prefix + "-latency", "Replication latency", "ms") : null;
      this.cpu = new Chart(prefix + "-cpu", "CPU per worker", "% of MCU");
      this.all = [this.throughput, this.bytes, this.lag, this.latency, this.cpu].filter(Boolean);
      this.el = h("section", { "aria-labelledby": prefix + "-metrics-h" },
        h("h2", { id: prefix + "-metrics-h" }, "Live metrics"),
        h("p", { class: "muted" }, "Each worker's latest metrics as its agent reported them, sampled every 2 seconds; one line per worker."),
        h("div", { class: "charts" }, this.all.map((c) => c.el)));
    }
    addWorkers(workers) {
      for (const w of workers || []) {
        const m = w.metrics;
        if (!m || !m.time) continue;
        const t = Date.parse(m.time);
        const name = (w.workloadName ? w.workloadName + " " : "") + (w.workerId || "").split("/").pop();
        this.throughput.add(name, t, Number(m.recordsPerSecond));
        this.bytes.add(name, t, Number(m.bytesPerSecond));
        this.lag.add(name, t, Number(m.lag));
        if (this.latency) this.latency.add(name, t, Number(m.replicationLatencyMs));
        this.cpu.add(name, t, Number(m.cpuUtilizationPercent));
      }
      for (const c of this.all) c.render();
    }
  }

  // ---------------------------------------------------------------- router

  let timers = [];
  function every(ms, fn) {
    let stopped = false;
    const tick = async () => {
      if (stopped) return;
      try { await fn(); } catch (e) { status("Refresh failed: " + e.type + ": " + e.message); }
      if (!stopped) timers.push(setTimeout(tick, ms));
    };
    timers.push({ stop: () => { stopped = true; } });
    tick();
  }
  function stopTimers() {
    for (const t of timers) { if (typeof t === "object" && t.stop) t.stop(); else clearTimeout(t); }
    timers = [];
  }

  const routes = [
    [/^\/connectors$/, pageConnectors],
    [/^\/connectors\/new$/, () => pageConnectorForm(null)],
    [/^\/connectors\/(.+)\/edit$/, (arn) => pageConnectorForm(arn)],
    [/^\/connectors\/(.+)$/, pageConnector],
    [/^\/plugins$/, pagePlugins],
    [/^\/plugins\/(.+)$/, pagePlugin],
    [/^\/worker-configurations$/, pageWorkerConfigs],
    [/^\/worker-configurations\/(.+)$/, pageWorkerConfig],
    [/^\/replicators$/, pageReplicators],
    [/^\/replicators\/new$/, pageReplicatorForm],
    [/^\/replicators\/(.+)$/, pageReplicator],
    [/^\/fleet$/, pageFleet],
  ];

  function go(path) { location.hash = "#" + path; }

  async function route() {
    stopTimers();
    alertBox("");
    status("");
    const creds = session.get();
    $("#nav").hidden = !creds;
    $("#who").hidden = !creds;
    if (!creds) { pageSignIn(); return; }
    $("#who-key").textContent = "Signed in as " + creds.accessKeyId + " (" + creds.region + ")";
    let path = location.hash.replace(/^#/, "") || "/connectors";
    if (path === "/" || path === "/signin") path = "/connectors";
    for (const a of document.querySelectorAll("#nav a")) {
      const href = a.getAttribute("href").slice(1);
      if (path === href || path.startsWith(href + "/")) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    for (const [re, fn] of routes) {
      const m = re.exec(path);
      if (!m) continue;
      put(main(), h("p", { class: "muted" }, "Loading…"));
      try {
        await fn(...m.slice(1).map(decodeURIComponent));
      } catch (e) {
        if (e.type === "UnrecognizedClientException" || e.type === "InvalidSignatureException") {
          // The key was removed or its secret changed since sign-in: sign in again.
          session.clear();
          await route();
          alertBox(e.type + ": " + e.message + " Sign in again.");
          return;
        }
        put(main(), h("h1", { id: "page-title", tabindex: "-1" }, "Could not load this page"));
        alertBox((e.type ? e.type + ": " : "") + e.message);
      }
      const title = $("#page-title");
      if (title) { document.title = title.textContent + " · Fjord console"; title.focus(); }
      return;
    }
    put(main(), h("h1", { id: "page-title", tabindex: "-1" }, "Not found"), h("p", {}, "No page at " + path + "."));
  }
  const link = (path, text) => h("a", { href: "#" + path }, text);
  const arnPath = (kind, arn) => "/" + kind + "/" + encodeURIComponent(arn);

  // ---------------------------------------------------------------- sign in

  function pageSignIn() {
    const [title, form] = formShell("Sign in", "Sign in", [
      h("p", { class: "muted" }, "Use an access key of your Fjord account. The secret stays in this browser tab (sessionStorage) and signs each request; it is never sent."),
      field({ id: "accessKeyId", label: "Access key ID", param: "accessKeyId|security token", required: true, autocomplete: "username" }),
      field({ id: "secretAccessKey", label: "Secret access key", type: "password", param: "secretAccessKey|signature", required: true, autocomplete: "current-password" }),
      field({ id: "region", label: "Region", value: "us-east-1", param: "region", required: true }),
    ], async (form) => {
      const creds = { accessKeyId: val(form, "accessKeyId"), secretAccessKey: form.elements.secretAccessKey.value, region: val(form, "region") };
      for (const [k, label] of [["accessKeyId", "Access key ID"], ["secretAccessKey", "Secret access key"], ["region", "Region"]]) {
        if (!creds[k]) throw new ApiError("", label + " is required.", k);
      }
      try {
        await call("kafkaconnect", "GET", "/v1/connectors", [["maxResults", "1"]], undefined, creds);
      } catch (e) {
        if (e.type === "UnrecognizedClientException") e.param = "accessKeyId";
        else if (e.type === "InvalidSignatureException" && /region/i.test(e.message)) e.param = "region";
        else if (e.type === "InvalidSignatureException") e.param = "secretAccessKey";
        throw e;
      }
      session.set(creds);
      form.elements.secretAccessKey.value = "";
      if (!location.hash || location.hash === "#/signin") go("/connectors"); else route();
    });
    put(main(), h("div", { class: "signin" }, title, form));
    $("#accessKeyId").focus();
  }

  // ---------------------------------------------------------------- connectors

  async function pageConnectors() {
    const items = await listAll((t) => kc("GET", "/v1/connectors", [["maxResults", "100"], ["nextToken", t]]), "connectors");
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Connectors"),
      h("div", { class: "toolbar" }, h("a", { class: "button", href: "#/connectors/new" }, "Create connector")),
      table(items.length + " connector(s)", ["Name", "State", "Capacity", "Kafka Connect", "Created"], items.map((c) => [
        link(arnPath("connectors", c.connectorArn), c.connectorName), stateEl(c.connectorState), capacityText(c.capacity),
        c.kafkaConnectVersion || "", fmtTime(c.creationTime)])));
  }
  function capacityText(c) {
    if (!c) return "";
    if (c.provisionedCapacity) return c.provisionedCapacity.workerCount + " × " + c.provisionedCapacity.mcuCount + " MCU";
    if (c.autoScaling) return "autoscaled " + c.autoScaling.minWorkerCount + "–" + c.autoScaling.maxWorkerCount + " × " + c.autoScaling.mcuCount + " MCU";
    return "";
  }

  async function pageConnector(arn) {
    let c = await kc("GET", "/v1/connectors/" + esc(arn));
    const stateBox = h("span", { id: "connector-state" }, stateEl(c.connectorState));
    const reasonOf = (d) => (d.stateDescription ? [d.stateDescription.code, d.stateDescription.message].filter(Boolean).join(": ") : "") || "—";
    const reasonBox = h("span", {}, reasonOf(c));
    const details = h("div", {}), config = h("div", { id: "connector-configuration" });
    // render shows the description; it runs again when the connector's version changes (an
    // update took effect).
    const render = () => {
      put(details, facts([["State", stateBox], ["State reason", reasonBox],
        ["ARN", h("span", { class: "mono" }, arn)], ["Current version", c.currentVersion], ["Description", c.connectorDescription],
        ["Capacity", capacityText(c.capacity)], ["Kafka Connect", c.kafkaConnectVersion],
        ["Bootstrap servers", c.kafkaCluster && c.kafkaCluster.apacheKafkaCluster && c.kafkaCluster.apacheKafkaCluster.bootstrapServers],
        ["Plugins", (c.plugins || []).map((p) => p.customPlugin ? h("div", { class: "mono" }, p.customPlugin.customPluginArn + " rev " + p.customPlugin.revision) : "")],
        ["Worker configuration", c.workerConfiguration ? c.workerConfiguration.workerConfigurationArn + " rev " + c.workerConfiguration.revision : ""],
        ["Service execution role", c.serviceExecutionRoleArn], ["Created", fmtTime(c.creationTime)]]));
      put(config, table("connectorConfiguration", ["Key", "Value"], Object.entries(c.connectorConfiguration || {}).sort().map(([k, v]) => [h("span", { class: "mono" }, k), h("span", { class: "mono" }, v)])));
    };
    render();
    const ops = h("div", {});
    const workload = new WorkloadPanel("connector", arn, false);
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Connector " + c.connectorName),
      h("div", { class: "toolbar" },
        h("a", { class: "button secondary", href: "#" + arnPath("connectors", arn) + "/edit" }, "Update"),
        confirmDelete("connector " + c.connectorName, async () => {
          const cur = await kc("GET", "/v1/connectors/" + esc(arn));
          await kc("DELETE", "/v1/connectors/" + esc(arn), [["currentVersion", cur.currentVersion]]);
          status("Connector " + c.connectorName + " is being deleted.");
          go("/connectors");
        })),
      details,
      h("h2", {}, "Configuration"), config,
      h("h2", {}, "Operations"), ops,
      workload.el);
    // The operations table is rebuilt only when an operation changed; an operation whose steps
    // are shown stays open, its steps fetched again.
    const openOps = new Set();
    let lastOps = "";
    const loadOps = async () => {
      const r = await kc("GET", "/v1/connectors/" + esc(arn) + "/operations", [["maxResults", "20"]]);
      const list = r.connectorOperations || [];
      if (JSON.stringify(list) === lastOps) return;
      lastOps = JSON.stringify(list);
      const rows = list.map((o) => {
        const steps = h("div", {});
        const det = h("details", { dataset: { operation: o.connectorOperationArn } }, h("summary", {}, "Steps"), steps);
        det.addEventListener("toggle", async () => {
          if (!det.open) { openOps.delete(o.connectorOperationArn); return; }
          openOps.add(o.connectorOperationArn);
          try {
            const d = await kc("GET", "/v1/connectorOperations/" + esc(o.connectorOperationArn));
            put(steps, h("ol", { class: "steps" }, (d.operationSteps || []).map((st) => h("li", {}, st.stepType + " — ", stateEl(st.stepState)))),
              d.errorInfo && (d.errorInfo.code || d.errorInfo.message) ? h("p", { class: "field-error" }, [d.errorInfo.code, d.errorInfo.message].filter(Boolean).join(": ")) : null);
          } catch (e) { put(steps, h("p", { class: "field-error" }, e.type + ": " + e.message)); }
        });
        if (openOps.has(o.connectorOperationArn)) det.open = true;
        return [o.connectorOperationType, stateEl(o.connectorOperationState), fmtTime(o.creationTime), fmtTime(o.endTime), det];
      });
      put(ops, table(list.length + " operation(s), newest first", ["Type", "State", "Started", "Ended", "Steps"], rows));
    };
    every(2000, async () => {
      const d = await kc("GET", "/v1/connectors/" + esc(arn));
      put(stateBox, stateEl(d.connectorState));
      reasonBox.textContent = reasonOf(d);
      if (d.currentVersion !== c.currentVersion || JSON.stringify(d.connectorConfiguration) !== JSON.stringify(c.connectorConfiguration)) { c = d; render(); }
      await workload.refresh();
    });
    every(3000, loadOps);
  }

  // sameShape rebuilds a described capacity as the form sends one, to tell whether it changed.
  function sameShape(c) {
    if (!c) return null;
    if (c.autoScaling) {
      const a = c.autoScaling;
      return { autoScaling: { mcuCount: a.mcuCount, minWorkerCount: a.minWorkerCount, maxWorkerCount: a.maxWorkerCount,
        scaleInPolicy: { cpuUtilizationPercentage: (a.scaleInPolicy || {}).cpuUtilizationPercentage },
        scaleOutPolicy: { cpuUtilizationPercentage: (a.scaleOutPolicy || {}).cpuUtilizationPercentage } } };
    }
    const p = c.provisionedCapacity || {};
    return { provisionedCapacity: { mcuCount: p.mcuCount, workerCount: p.workerCount } };
  }
  const sorted = (o) => Object.keys(o).sort().map((k) => [k, o[k]]);

  async function pageConnectorForm(arn) {
    const editing = !!arn;
    const c = editing ? await kc("GET", "/v1/connectors/" + esc(arn)) : null;
    const cap = (c && c.capacity) || {};
    const prov = cap.provisionedCapacity || {}, auto = cap.autoScaling || {};
    const mode = cap.autoScaling ? "autoscaled" : "provisioned";
    const capacity = h("fieldset", {}, h("legend", {}, "Capacity"),
      field({ id: "capacityMode", label: "Capacity mode", options: [["provisioned", "Provisioned"], ["autoscaled", "Autoscaled"]], value: mode, param: "capacity" }),
      field({ id: "mcuCount", label: "MCU per worker", type: "number", value: prov.mcuCount || auto.mcuCount || 1, param: "capacity.provisionedCapacity.mcuCount|capacity.autoScaling.mcuCount" }),
      field({ id: "workerCount", label: "Workers", type: "number", value: prov.workerCount || 1, param: "capacity.provisionedCapacity.workerCount", hidden: mode !== "provisioned" }),
      field({ id: "minWorkerCount", label: "Minimum workers", type: "number", value: auto.minWorkerCount || 1, param: "capacity.autoScaling.minWorkerCount", hidden: mode !== "autoscaled" }),
      field({ id: "maxWorkerCount", label: "Maximum workers", type: "number", value: auto.maxWorkerCount || 2, param: "capacity.autoScaling.maxWorkerCount", hidden: mode !== "autoscaled" }),
      field({ id: "scaleOutCpu", label: "Scale-out CPU utilization (%)", type: "number", value: (auto.scaleOutPolicy || {}).cpuUtilizationPercentage || 80, param: "capacity.autoScaling.scaleOutPolicy.cpuUtilizationPercentage", hidden: mode !== "autoscaled" }),
      field({ id: "scaleInCpu", label: "Scale-in CPU utilization (%)", type: "number", value: (auto.scaleInPolicy || {}).cpuUtilizationPercentage || 20, param: "capacity.autoScaling.scaleInPolicy.cpuUtilizationPercentage", hidden: mode !== "autoscaled" }));
    const config = field({ id: "connectorConfiguration", label: "Connector configuration", type: "textarea", param: "connectorConfiguration",
      hint: "One key=value per line, as in a Kafka Connect properties file.",
      value: c ? Object.entries(c.connectorConfiguration || {}).sort().map(([k, v]) => k + "=" + v).join("\n") : "connector.class=\ntasks.max=1\n" });
    let fields;
    const latest = new Map(); // custom plugin or worker configuration ARN → latest revision
    let plugins = [], wcs = [];
    if (editing) {
      fields = [h("p", {}, "Update the capacity or the configuration of ", h("strong", {}, c.connectorName), " (version " + c.currentVersion + "): one of them per update, as MSK Connect."), capacity, config];
    } else {
      [plugins, wcs] = await Promise.all([
        listAll((t) => kc("GET", "/v1/custom-plugins", [["maxResults", "100"], ["nextToken", t]]), "customPlugins"),
        listAll((t) => kc("GET", "/v1/worker-configurations", [["maxResults", "100"], ["nextToken", t]]), "workerConfigurations")]);
      fields = [
        field({ id: "connectorName", label: "Name", param: "connectorName", required: true }),
        field({ id: "connectorDescription", label: "Description", param: "connectorDescription" }),
        field({ id: "kafkaConnectVersion", label: "Kafka Connect version", value: "3.7.x", param: "kafkaConnectVersion", required: true }),
        h("fieldset", {}, h("legend", {}, "Plugin"),
          field({ id: "customPluginArn", label: "Custom plugin", param: "plugins.1.customPlugin.customPluginArn|plugins", required: true,
            options: [["", "Choose a custom plugin"]].concat(plugins.map((p) => [p.customPluginArn, p.name + " (" + p.customPluginState + ")"])) }),
          field({ id: "pluginRevision", label: "Revision", type: "number", value: 1, min: 1, param: "plugins.1.customPlugin.revision" })),
        field({ id: "workerConfigurationArn", label: "Worker configuration", param: "workerConfiguration.workerConfigurationArn|workerConfiguration",
          options: [["", "None (the defaults)"]].concat(wcs.map((w) => [w.workerConfigurationArn, w.name])) }),
        h("fieldset", {}, h("legend", {}, "Kafka cluster"),
          field({ id: "bootstrapServers", label: "Bootstrap servers", param: "kafkaCluster.apacheKafkaCluster.bootstrapServers|kafkaCluster", required: true, placeholder: "host:port,host:port" }),
          field({ id: "subnets", label: "Subnets", param: "kafkaCluster.apacheKafkaCluster.vpc.subnets", value: "subnet-fjord", hint: "Comma-separated; MSK Connect requires them, Fjord records them." }),
          field({ id: "securityGroups", label: "Security groups", param: "kafkaCluster.apacheKafkaCluster.vpc.securityGroups", hint: "Comma-separated, optional." }),
          field({ id: "authenticationType", label: "Client authentication", param: "kafkaClusterClientAuthentication.authenticationType|kafkaClusterClientAuthentication", options: [["NONE", "None"], ["IAM", "IAM"]] }),
          field({ id: "encryptionType", label: "Encryption in transit", param: "kafkaClusterEncryptionInTransit.encryptionType|kafkaClusterEncryptionInTransit", options: [["PLAINTEXT", "Plaintext"], ["TLS", "TLS"]] })),
        capacity, config,
        field({ id: "serviceExecutionRoleArn", label: "Service execution role ARN", param: "serviceExecutionRoleArn", required: true, placeholder: "arn:aws:iam::123456789012:role/name" }),
      ];
    }
    const [title, form] = formShell(editing ? "Update connector " + c.connectorName : "Create connector", editing ? "Update" : "Create", fields, async (form) => {
      const cfg = {};
      for (const line of form.elements.connectorConfiguration.value.split("\n")) {
        const t = line.trim();
        if (!t || t.startsWith("#")) continue;
        const i = t.indexOf("=");
        if (i < 0) throw new ApiError("", "Line \"" + t + "\" is not key=value.", "connectorConfiguration");
        cfg[t.slice(0, i).trim()] = t.slice(i + 1).trim();
      }
      const n = (name) => Number(val(form, name));
      const capacity = val(form, "capacityMode") === "autoscaled"
        ? { autoScaling: { mcuCount: n("mcuCount"), minWorkerCount: n("minWorkerCount"), maxWorkerCount: n("maxWorkerCount"),
          scaleInPolicy: { cpuUtilizationPercentage: n("scaleInCpu") }, scaleOutPolicy: { cpuUtilizationPercentage: n("scaleOutCpu") } } }
        : { provisionedCapacity: { mcuCount: n("mcuCount"), workerCount: n("workerCount") } };
      if (editing) {
        // UpdateConnector takes what changes: the capacity, or the configuration (as MSK
        // Connect, one per update; the API says so when both change).
        const body = {};
        if (JSON.stringify(capacity) !== JSON.stringify(sameShape(c.capacity))) body.capacity = capacity;
        if (JSON.stringify(sorted(cfg)) !== JSON.stringify(sorted(c.connectorConfiguration || {}))) body.connectorConfiguration = cfg;
        if (!Object.keys(body).length) throw new ApiError("", "Nothing changed: change the capacity or the configuration.", "connectorConfiguration");
        const r = await kc("PUT", "/v1/connectors/" + esc(arn), [["currentVersion", c.currentVersion]], body);
        status("Connector " + c.connectorName + " is " + (r.connectorState || "updating") + ".");
        go(arnPath("connectors", arn));
        return;
      }
      const body = {
        connectorName: val(form, "connectorName"),
        kafkaConnectVersion: val(form, "kafkaConnectVersion"),
        capacity, connectorConfiguration: cfg,
        plugins: [{ customPlugin: { customPluginArn: val(form, "customPluginArn"), revision: n("pluginRevision") } }],
        kafkaCluster: { apacheKafkaCluster: { bootstrapServers: val(form, "bootstrapServers"),
          vpc: { subnets: list(val(form, "subnets")), securityGroups: list(val(form, "securityGroups")) } } },
        kafkaClusterClientAuthentication: { authenticationType: val(form, "authenticationType") },
        kafkaClusterEncryptionInTransit: { encryptionType: val(form, "encryptionType") },
        serviceExecutionRoleArn: val(form, "serviceExecutionRoleArn"),
      };
      if (val(form, "connectorDescription")) body.connectorDescription = val(form, "connectorDescription");
      if (val(form, "workerConfigurationArn")) body.workerConfiguration = { workerConfigurationArn: val(form, "workerConfigurationArn"),
        revision: latest.get(val(form, "workerConfigurationArn")) || 1 };
      const r = await kc("POST", "/v1/connectors", [], body);
      status("Connector " + r.connectorName + " is " + r.connectorState + ".");
      go(arnPath("connectors", r.connectorArn));
    }, editing ? "#" + arnPath("connectors", arn) : "#/connectors");
    if (!editing) {
      for (const x of plugins.concat(wcs)) latest.set(x.customPluginArn || x.workerConfigurationArn, (x.latestRevision || {}).revision);
      // Choosing a plugin proposes its latest revision.
      form.elements.customPluginArn.addEventListener("change", () => {
        const rev = latest.get(form.elements.customPluginArn.value);
        if (rev) form.elements.pluginRevision.value = rev;
      });
    }
    const modeSel = form.elements.capacityMode;
    modeSel.addEventListener("change", () => {
      const auto = modeSel.value === "autoscaled";
      for (const id of ["workerCount"]) $("#" + id + "-field").hidden = auto;
      for (const id of ["minWorkerCount", "maxWorkerCount", "scaleOutCpu", "scaleInCpu"]) $("#" + id + "-field").hidden = !auto;
    });
    put(main(), title, form);
  }

  // ---------------------------------------------------------------- custom plugins

  async function pagePlugins() {
    const items = await listAll((t) => kc("GET", "/v1/custom-plugins", [["maxResults", "100"], ["nextToken", t]]), "customPlugins");
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Custom plugins"),
      h("p", { class: "muted" }, "Create custom plugins with the API (aws kafkaconnect create-custom-plugin): the console lists and describes them."),
      table(items.length + " custom plugin(s)", ["Name", "State", "Latest revision", "Content type", "Created"], items.map((p) => [
        link(arnPath("plugins", p.customPluginArn), p.name), stateEl(p.customPluginState),
        p.latestRevision ? p.latestRevision.revision : "", p.latestRevision ? p.latestRevision.contentType : "", fmtTime(p.creationTime)])));
  }

  async function pagePlugin(arn) {
    const [p, idx] = await Promise.all([kc("GET", "/v1/custom-plugins/" + esc(arn)),
      admin("DescribePlugin", { customPluginArn: arn, maxClasses: 200 }).catch((e) => ({ error: e }))]);
    const rev = p.latestRevision || {};
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Custom plugin " + p.name),
      h("div", { class: "toolbar" }, confirmDelete("custom plugin " + p.name, async () => {
        await kc("DELETE", "/v1/custom-plugins/" + esc(arn));
        go("/plugins");
      })),
      facts([["State", stateEl(p.customPluginState)], ["State reason", p.stateDescription ? p.stateDescription.code + ": " + p.stateDescription.message : ""],
        ["ARN", h("span", { class: "mono" }, arn)], ["Description", p.description], ["Revision", rev.revision], ["Content type", rev.contentType],
        ["Location", rev.location && rev.location.s3Location ? "s3://" + rev.location.s3Location.bucketArn.replace(/^arn:[^:]*:s3:::/, "") + "/" + rev.location.s3Location.fileKey +
          (rev.location.s3Location.objectVersion ? " (version " + rev.location.s3Location.objectVersion + ")" : "") : ""],
        ["Size", rev.fileDescription ? num(rev.fileDescription.fileSize) + " bytes" : ""], ["Created", fmtTime(p.creationTime)]]),
      h("h2", {}, "What Fjord found in it"),
      idx.error ? h("p", { class: "field-error" }, idx.error.type + ": " + idx.error.message) : h("div", { id: "plugin-index" },
        facts([["Indexed", idx.indexed ? "yes, " + fmtTime(idx.indexTime) : "no"], ["Classes", num(idx.classCount)], ["Archives read", num(idx.archiveCount)]]),
        table("Connector classes", ["Class"], (idx.connectorClasses || []).map((c) => [h("span", { class: "mono" }, c)])),
        table("Used by", ["Connector", "Revision"], (idx.usedBy || []).map((u) => [link(arnPath("connectors", u.connectorArn), u.connectorArn), u.revision]))));
  }

  // ---------------------------------------------------------------- worker configurations

  async function pageWorkerConfigs() {
    const items = await listAll((t) => kc("GET", "/v1/worker-configurations", [["maxResults", "100"], ["nextToken", t]]), "workerConfigurations");
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Worker configurations"),
      table(items.length + " worker configuration(s)", ["Name", "State", "Latest revision", "Description", "Created"], items.map((w) => [
        link(arnPath("worker-configurations", w.workerConfigurationArn), w.name), stateEl(w.workerConfigurationState),
        w.latestRevision ? w.latestRevision.revision : "", w.description || "", fmtTime(w.creationTime)])));
  }

  async function pageWorkerConfig(arn) {
    const w = await kc("GET", "/v1/worker-configurations/" + esc(arn));
    const rev = w.latestRevision || {};
    let props = "";
    try { props = new TextDecoder().decode(Uint8Array.from(atob(rev.propertiesFileContent || ""), (ch) => ch.charCodeAt(0))); } catch { props = rev.propertiesFileContent || ""; }
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Worker configuration " + w.name),
      h("div", { class: "toolbar" }, confirmDelete("worker configuration " + w.name, async () => {
        await kc("DELETE", "/v1/worker-configurations/" + esc(arn));
        go("/worker-configurations");
      })),
      facts([["State", stateEl(w.workerConfigurationState)], ["ARN", h("span", { class: "mono" }, arn)], ["Description", w.description],
        ["Revision", rev.revision], ["Created", fmtTime(w.creationTime)]]),
      h("h2", {}, "Properties"),
      h("pre", { class: "mono", tabindex: "0", "aria-label": "Worker properties" }, props || "(none)"));
  }

  // ---------------------------------------------------------------- replicators

  async function pageReplicators() {
    const items = await listAll((t) => kafka("GET", "/replication/v1/replicators", [["maxResults", "100"], ["nextToken", t]]), "replicators");
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Replicators"),
      h("div", { class: "toolbar" }, h("a", { class: "button", href: "#/replicators/new", id: "create-replicator" }, "Create replicator")),
      table(items.length + " replicator(s)", ["Name", "State", "Replication", "Created"], items.map((r) => [
        link(arnPath("replicators", r.replicatorArn), r.replicatorName), stateEl(r.replicatorState),
        (r.replicationInfoSummaryList || []).map((i) => h("div", {}, i.sourceKafkaClusterAlias + " → " + i.targetKafkaClusterAlias)),
        fmtTime(r.creationTime)])));
  }

  async function pageReplicatorForm() {
    const clusters = await listAll((t) => kafka("GET", "/api/v2/clusters", [["maxResults", "100"], ["nextToken", t]]), "clusterInfoList");
    const opts = [["", "Choose a cluster"]].concat(clusters.map((c) => [c.clusterArn, c.clusterName]));
    const account = clusters.length ? clusters[0].clusterArn.split(":")[4] : "123456789012";
    const [title, form] = formShell("Create replicator", "Create", [
      field({ id: "replicatorName", label: "Name", param: "replicatorName", required: true, hint: "Letters, digits and '-'." }),
      field({ id: "description", label: "Description", param: "description" }),
      h("fieldset", {}, h("legend", {}, "Clusters"),
        field({ id: "sourceCluster", label: "Source cluster", options: opts, value: (clusters.find((c) => c.clusterName === "source") || {}).clusterArn,
          param: "kafkaClusters.1.amazonMskCluster.mskClusterArn|kafkaClusters.1|replicationInfoList.1.sourceKafkaClusterArn|kafkaClusters", required: true }),
        field({ id: "targetCluster", label: "Target cluster", options: opts, value: (clusters.find((c) => c.clusterName === "target") || {}).clusterArn,
          param: "kafkaClusters.2.amazonMskCluster.mskClusterArn|kafkaClusters.2|replicationInfoList.1.targetKafkaClusterArn", required: true })),
      h("fieldset", {}, h("legend", {}, "Topics"),
        field({ id: "topicsToReplicate", label: "Topics to replicate", value: ".*", param: "replicationInfoList.1.topicReplication.topicsToReplicate|replicationInfoList.1.topicReplication|replicationInfoList.1|replicationInfoList",
          hint: "Comma-separated regular expressions (RE2)." }),
        field({ id: "topicsToExclude", label: "Topics to exclude", param: "replicationInfoList.1.topicReplication.topicsToExclude", hint: "Comma-separated regular expressions, optional." }),
        field({ id: "startingPosition", label: "Starting position", param: "replicationInfoList.1.topicReplication.startingPosition.type",
          options: [["LATEST", "Latest"], ["EARLIEST", "Earliest"]], value: "EARLIEST" }),
        field({ id: "topicNameConfiguration", label: "Target topic names", param: "replicationInfoList.1.topicReplication.topicNameConfiguration.type",
          options: [["PREFIXED_WITH_SOURCE_CLUSTER_ALIAS", "Prefixed with the source cluster alias"], ["IDENTICAL", "Identical"]] })),
      h("fieldset", {}, h("legend", {}, "Consumer groups"),
        field({ id: "consumerGroupsToReplicate", label: "Consumer groups to replicate", value: ".*", param: "replicationInfoList.1.consumerGroupReplication.consumerGroupsToReplicate|replicationInfoList.1.consumerGroupReplication",
          hint: "Comma-separated regular expressions." })),
      field({ id: "targetCompressionType", label: "Target compression", param: "replicationInfoList.1.targetCompressionType",
        options: [["NONE", "None"], ["GZIP", "gzip"], ["SNAPPY", "Snappy"], ["LZ4", "LZ4"], ["ZSTD", "zstd"]] }),
      field({ id: "serviceExecutionRoleArn", label: "Service execution role ARN", param: "serviceExecutionRoleArn", required: true,
        value: "arn:aws:iam::" + account + ":role/fjord-replicator" }),
    ], async (form) => {
      const src = val(form, "sourceCluster"), dst = val(form, "targetCluster");
      const body = {
        replicatorName: val(form, "replicatorName"),
        serviceExecutionRoleArn: val(form, "serviceExecutionRoleArn"),
        kafkaClusters: [{ amazonMskCluster: { mskClusterArn: src } }, { amazonMskCluster: { mskClusterArn: dst } }],
        replicationInfoList: [{
          sourceKafkaClusterArn: src, targetKafkaClusterArn: dst, targetCompressionType: val(form, "targetCompressionType"),
          topicReplication: { topicsToReplicate: list(val(form, "topicsToReplicate")), topicsToExclude: list(val(form, "topicsToExclude")),
            startingPosition: { type: val(form, "startingPosition") }, topicNameConfiguration: { type: val(form, "topicNameConfiguration") },
            detectAndCopyNewTopics: true, copyTopicConfigurations: true, copyAccessControlListsForTopics: true },
          consumerGroupReplication: { consumerGroupsToReplicate: list(val(form, "consumerGroupsToReplicate")),
            detectAndCopyNewConsumerGroups: true, synchroniseConsumerGroupOffsets: true },
        }],
      };
      if (val(form, "description")) body.description = val(form, "description");
      const r = await kafka("POST", "/replication/v1/replicators", [], body);
      status("Replicator " + r.replicatorName + " is " + r.replicatorState + ".");
      go(arnPath("replicators", r.replicatorArn));
    }, "#/replicators");
    put(main(), title, form);
  }

  async function pageReplicator(arn) {
    let r = await kafka("GET", "/replication/v1/replicators/" + esc(arn));
    const stateBox = h("span", { id: "replicator-state" }, stateEl(r.replicatorState));
    const reasonOf = (d) => (d.stateInfo ? [d.stateInfo.code, d.stateInfo.message].filter(Boolean).join(": ") : "") || "—";
    const reasonBox = h("span", {}, reasonOf(r));
    const details = h("div", {}), replication = h("div", {});
    // render shows the description; it runs again when the replicator's version changes.
    const render = () => {
      put(details, facts([["State", stateBox], ["State reason", reasonBox],
        ["ARN", h("span", { class: "mono" }, arn)], ["Current version", r.currentVersion], ["Description", r.replicatorDescription],
        ["Clusters", (r.kafkaClusters || []).map((k) => h("div", {}, k.kafkaClusterAlias + " ",
          h("span", { class: "mono" }, (k.amazonMskCluster || {}).mskClusterArn || (k.apacheKafkaCluster || {}).bootstrapBrokerString || "")))],
        ["Service execution role", r.serviceExecutionRoleArn], ["Created", fmtTime(r.creationTime)]]));
      put(replication, table("replicationInfoList", ["Source → target", "Topics", "Excluded", "Start", "Names", "Consumer groups"], (r.replicationInfoList || []).map((i) => [
        i.sourceKafkaClusterAlias + " → " + i.targetKafkaClusterAlias,
        ((i.topicReplication || {}).topicsToReplicate || []).join(", "), ((i.topicReplication || {}).topicsToExclude || []).join(", "),
        ((i.topicReplication || {}).startingPosition || {}).type || "", ((i.topicReplication || {}).topicNameConfiguration || {}).type || "",
        ((i.consumerGroupReplication || {}).consumerGroupsToReplicate || []).join(", ")])));
    };
    render();
    const workload = new WorkloadPanel("replicator", arn, true);
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Replicator " + r.replicatorName),
      h("div", { class: "toolbar" }, confirmDelete("replicator " + r.replicatorName, async () => {
        const cur = await kafka("GET", "/replication/v1/replicators/" + esc(arn));
        await kafka("DELETE", "/replication/v1/replicators/" + esc(arn), [["currentVersion", cur.currentVersion]]);
        status("Replicator " + r.replicatorName + " is being deleted.");
        go("/replicators");
      })),
      details,
      h("h2", {}, "Replication"), replication,
      workload.el);
    every(2000, async () => {
      let d;
      try { d = await kafka("GET", "/replication/v1/replicators/" + esc(arn)); } catch (e) {
        if (e.type === "NotFoundException") { put(stateBox, stateEl("DELETED")); return; }
        throw e;
      }
      put(stateBox, stateEl(d.replicatorState));
      reasonBox.textContent = reasonOf(d);
      if (d.currentVersion !== r.currentVersion) { r = d; render(); }
      await workload.refresh();
    });
  }

  // ---------------------------------------------------------------- workloads and the fleet

  // WorkloadPanel shows where a workload runs (admin DescribeWorkload), its events and charts.
  class WorkloadPanel {
    constructor(kind, arn, withLatency) {
      this.arn = arn;
      this.shape = h("div", {});
      this.workers = h("div", {});
      this.events = h("div", {});
      this.charts = new MetricCharts(kind, withLatency);
      this.el = h("section", { "aria-labelledby": "workload-h" },
        h("h2", { id: "workload-h" }, "Workers"), this.shape, this.workers, this.charts.el,
        h("h2", {}, "Events"), this.events);
    }
    async refresh() {
      let d;
      try { d = await admin("DescribeWorkload", { workloadArn: this.arn, maxEvents: 25 }); } catch (e) {
        if (e.type === "NotFoundException") return;
        throw e;
      }
      const sh = d.desired || {};
      put(this.shape, facts([["Desired", sh.workers + " worker(s) × " + sh.mcuPerWorker + " MCU, " + sh.tasks + " task(s)" + (sh.autoscaled ? ", autoscaled " + sh.minWorkers + "–" + sh.maxWorkers : "")],
        ["Autoscaler", sh.autoscaleReason ? sh.autoscaleReason + " (" + fmtTime(sh.autoscaleTime) + ")" : ""]]));
      put(this.workers, table((d.workers || []).length + " worker(s)", ["Worker", "Agent", "State", "Tasks", "Records/s", "Lag", "CPU %", "Error"],
        (d.workers || []).map((w) => [h("span", { class: "mono" }, w.workerId), w.agentId || "(waiting for capacity)", stateEl(w.state),
          (w.taskIds || []).join(", ") + " of " + w.taskCount,
          w.metrics ? num(w.metrics.recordsPerSecond, 1) : "—", w.metrics ? num(w.metrics.lag) : "—", w.metrics ? num(w.metrics.cpuUtilizationPercent, 1) : "—", w.error || ""])));
      put(this.events, table("Newest first", ["Time", "Kind", "State", "Reason", "Agent", "Worker"],
        (d.recentEvents || []).map((e) => [fmtTime(e.time), e.kind, e.state ? [e.previousState ? e.previousState + " → " : "", stateEl(e.state)] : "",
          e.reason, e.agentId, h("span", { class: "mono" }, e.workerId)])));
      this.charts.addWorkers((d.workers || []).map((w) => Object.assign({}, w, { workloadName: "" })));
    }
  }

  // workloadLink links a connector's or replicator's page, named by name or by its ARN.
  function workloadLink(arn, name) {
    const m = /^arn:[^:]+:(kafkaconnect|kafka):[^:]*:[^:]*:(connector|replicator)\/([^/]+)\//.exec(arn || "");
    if (!m) return name || arn || "";
    return link(arnPath(m[2] === "connector" ? "connectors" : "replicators", arn), name || m[3]);
  }

  async function pageFleet() {
    const agents = h("div", {});
    const charts = new MetricCharts("fleet", true);
    const events = h("div", {});
    put(main(),
      h("h1", { id: "page-title", tabindex: "-1" }, "Fleet"),
      h("p", { class: "muted" }, "Every agent with its capacity and lease; the workers of your account on each. Refreshed every 2 seconds."),
      agents, charts.el, h("h2", {}, "Recent events of your workloads"), events);
    let lastEvent = 0, recent = [];
    const first = await admin("FollowWorkloadEvents", { startNow: true });
    lastEvent = Number(first.lastEventId || 0);
    lastEvent = Math.max(0, lastEvent - 50);
    every(2000, async () => {
      const r = await admin("ListAgents", {});
      const rows = [];
      const workers = [];
      for (const a of r.agents || []) {
        rows.push([h("strong", {}, a.agentId), stateEl(a.state), a.connected ? "yes" : "no", a.mcuUsed + " / " + a.mcuCapacity,
          a.address, a.version, fmtTime(a.lastHeartbeatTime),
          (a.workers || []).length ? h("ul", {}, a.workers.map((w) => h("li", {},
            link(arnPath(w.workloadKind === "replicator" ? "replicators" : "connectors", w.workloadArn), w.workloadName),
            " #" + (w.workerId || "").split("/").pop() + " ", stateEl(w.state), " " + w.mcu + " MCU"))) : "—",
          a.otherWorkers ? a.otherWorkers : ""]);
        for (const w of a.workers || []) workers.push(w);
      }
      put(agents, table((r.agents || []).length + " agent(s)", ["Agent", "State", "Connected", "MCU used / capacity", "Address", "Version", "Last heartbeat", "Your workers", "Other accounts' workers"], rows));
      charts.addWorkers(workers);
      const ev = await admin("FollowWorkloadEvents", { afterEventId: String(lastEvent), maxResults: 100 });
      lastEvent = Number(ev.lastEventId || lastEvent);
      recent = (ev.events || []).reverse().concat(recent).slice(0, 30);
      put(events, table("Newest first", ["Time", "Workload", "Kind", "State", "Reason", "Agent"], recent.map((e) => [fmtTime(e.time),
        workloadLink(e.workloadArn, e.workloadName), e.kind, e.state ? stateEl(e.state) : "", e.reason, e.agentId])));
    });
  }

  // ---------------------------------------------------------------- start

  // A blocked script, style or connection is a bug of the console: say so where tests look.
  document.addEventListener("securitypolicyviolation", (e) => {
    console.error("Content-Security-Policy violation: " + e.violatedDirective + " " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
  });
  window.addEventListener("hashchange", route);
  document.addEventListener("DOMContentLoaded", () => {
    $("#sign-out").addEventListener("click", () => { session.clear(); location.hash = "#/signin"; route(); });
    route();
  });
  window.fjordConsole = { selfTest: () => SigV4.selfTest() };
})();
