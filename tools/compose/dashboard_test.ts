/**
 * The committed Grafana dashboard (tools/compose/grafana/dashboards/vigil.json) must be
 * valid JSON, and every metric its panels query must be one the services
 * really export.
 *
 * Metric names come from the services themselves where their registration
 * can run without I/O (each factory registers on a fresh `Registry`, then
 * `names()`); for services whose metrics are registered inside a run loop
 * that needs live servers, from the `.counter/.gauge/.histogram("vigil_…"`
 * literals in their source.
 */
import assert from "node:assert/strict";
import { Registry } from "@vigil/shared/metrics";
import { silentLogger } from "../testing/log.ts";
import { createKeys } from "@vigil/shared/keys";
import { createProducerMetrics } from "@vigil/producer/metrics";
import { createWebMetrics } from "@vigil/web/metrics";
import { createBridge } from "@vigil/bridge/bridge";
import { createArchive } from "@vigil/archive/archive";
import { createDetectorMetrics } from "@vigil/detector/io/metrics";
import { composeEnvironment } from "./compose_env.ts";

const ROOT = new URL("../../", import.meta.url);
const DASHBOARD = new URL("tools/compose/grafana/dashboards/vigil.json", ROOT);

/** Series Prometheus itself adds to every scrape. */
const PROMETHEUS_BUILTINS = new Set(["up", "scrape_duration_seconds", "scrape_samples_scraped"]);

const PROMQL_WORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/**
 * Metric names in a PromQL expression: string literals, label matchers,
 * range selectors, `by (…)` groupings and Grafana variables are removed;
 * identifiers followed by `(` are functions; what is left are metrics.
 */
export function metricNamesOf(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?/g)) {
    const [token, call] = [m[0].replace(/\s*\($/, ""), m[1]];
    if (call || PROMQL_WORDS.has(token.toLowerCase())) continue;
    // Skip duration literals like the "5m" in "offset 5m" and exponent parts.
    if (/^\d/.test(token) || /\d$/.test(stripped.slice(0, m.index))) continue;
    names.add(token);
  }
  return [...names];
}

/** A fresh registry's names, after `register` ran on it. */
function namesFrom(register: (registry: Registry) => unknown): string[] {
  const registry = new Registry();
  register(registry);
  return registry.names();
}

/** `vigil_*` names registered with a string literal in `dir`'s non-test sources. */
async function namesInSource(dir: string): Promise<string[]> {
  const names: string[] = [];
  const walk = async (url: URL): Promise<void> => {
    for await (const entry of Deno.readDir(url)) {
      const child = new URL(entry.name + (entry.isDirectory ? "/" : ""), url);
      if (entry.isDirectory && !["integration", "bench"].includes(entry.name)) await walk(child);
      else if (entry.isFile && /(?<!_test|_bench)\.ts$/.test(entry.name)) {
        const text = await Deno.readTextFile(child);
        const re = /\.(?:counter|gauge|histogram)\(\s*["'`](vigil_[a-z0-9_]+)["'`]/g;
        for (const m of text.matchAll(re)) names.push(m[1]!);
      }
    }
  };
  await walk(new URL(`${dir}/`, ROOT));
  return names;
}

/** Every metric name the services export, by service, and how it was found. */
async function exportedMetrics(): Promise<Map<string, { how: string; names: string[] }>> {
  const inert = {
    kafka: {
      consumer: () => {
        throw new Error("Cannot connect: metrics-only instance");
      },
      admin: () => {
        throw new Error("Cannot connect: metrics-only instance");
      },
    },
    log: silentLogger(),
  };
  const services = new Map<string, { how: string; names: string[] }>();
  services.set("process", { how: "registry", names: new Registry().names() });
  services.set("producer", { how: "registry", names: namesFrom(createProducerMetrics) });
  services.set("web", { how: "registry", names: namesFrom(createWebMetrics) });
  services.set("bridge", {
    how: "registry",
    names: namesFrom((metrics) =>
      createBridge({
        ...inert,
        redis: {} as unknown as Parameters<typeof createBridge>[0]["redis"],
        keys: createKeys("metrics-only:"),
        metrics,
      })
    ),
  });
  services.set("archive", {
    how: "registry",
    names: namesFrom((metrics) =>
      createArchive({
        ...inert,
        store: {} as Parameters<typeof createArchive>[0]["store"],
        metrics,
        config: { policy: { maxMessages: 1, maxBytes: 1, maxAgeMs: 1 } },
      })
    ),
  });
  services.set("detector", { how: "registry", names: namesFrom(createDetectorMetrics) });
  // Registered inside its run loops (which need Redis/PostgreSQL): read the source.
  services.set("notifier", { how: "source", names: await namesInSource("notifier") });
  return services;
}

interface Panel {
  type: string;
  title?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
  datasource?: { uid?: string };
}

async function loadDashboard(): Promise<{ uid: string; title: string; panels: Panel[] }> {
  return JSON.parse(await Deno.readTextFile(DASHBOARD));
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

Deno.test("metricNamesOf() finds metrics and skips functions, labels and keywords", () => {
  assert.deepEqual(
    metricNamesOf(
      'histogram_quantile(0.95, sum by (le, channel) (rate(vigil_x_seconds_bucket{job="a",le!="1"}[$__rate_interval])))',
    ),
    ["vigil_x_seconds_bucket"],
  );
  assert.deepEqual(metricNamesOf("sum(a_total) / ignoring (x) sum(b_total offset 5m) > bool 0"), [
    "a_total",
    "b_total",
  ]);
  assert.deepEqual(metricNamesOf('up{job=~"producer|bridge"}'), ["up"]);
  assert.deepEqual(metricNamesOf("1e3 * rate(c_total[1m])"), ["c_total"]);
});

Deno.test("the Vigil dashboard is valid JSON with a query in every panel", async () => {
  const dashboard = await loadDashboard();
  assert.equal(dashboard.uid, "vigil-overview");
  assert.equal(dashboard.title, "Vigil");
  const panels = allPanels(dashboard.panels).filter((p) => p.type !== "row");
  assert.ok(panels.length >= 15, `only ${panels.length} panels`);
  for (const panel of panels) {
    assert.ok(panel.targets?.length, `panel "${panel.title}" has no query`);
    assert.equal(panel.datasource?.uid, "vigil-prometheus", `panel "${panel.title}" datasource`);
    for (const target of panel.targets) {
      assert.ok(target.expr?.trim(), `panel "${panel.title}" has an empty query`);
    }
  }
  // The datasource uid the panels use is the provisioned one.
  const datasource = await Deno.readTextFile(
    new URL("tools/compose/grafana/provisioning/datasources/prometheus.yml", ROOT),
  );
  assert.match(datasource, /uid: vigil-prometheus/);
});

Deno.test("every metric the Vigil dashboard queries is exported by a service", async () => {
  const services = await exportedMetrics();
  for (const [service, { names }] of services) {
    assert.ok(names.length > 0, `no metrics found for ${service}`);
  }
  const exported = new Set([...services.values()].flatMap((s) => s.names));
  const dashboard = await loadDashboard();
  const missing: string[] = [];
  const used = new Set<string>();
  for (const panel of allPanels(dashboard.panels)) {
    for (const { expr } of panel.targets ?? []) {
      for (const name of metricNamesOf(expr ?? "")) {
        const base = name.replace(/_(bucket|sum|count)$/, "");
        if (exported.has(name) || exported.has(base) || PROMETHEUS_BUILTINS.has(name)) {
          used.add(exported.has(name) ? name : base);
        } else missing.push(`${name} (panel "${panel.title}")`);
      }
    }
  }
  assert.deepEqual(
    missing,
    [],
    `dashboard queries metrics no service exports:\n${missing.join("\n")}`,
  );
  // The dashboard covers every stage of the pipeline.
  for (const prefix of ["vigil_producer_", "vigil_bridge_", "vigil_detector_", "vigil_notifier_"]) {
    assert.ok([...used].some((n) => n.startsWith(prefix)), `no panel uses ${prefix}*`);
  }
});

Deno.test("Prometheus scrapes every replica of a scaled service, and the dashboard sums them right", async () => {
  const prometheus = await Deno.readTextFile(
    new URL("tools/compose/prometheus/prometheus.yml", ROOT),
  );
  const compose = await Deno.readTextFile(new URL("compose.yaml", ROOT));
  const jobs = new Map(
    prometheus.split(/^\s*- job_name: /m).slice(1).map((block) => {
      const [name, ...rest] = block.split("\n");
      return [name!.trim(), rest.join("\n")] as const;
    }),
  );
  // With `--scale detector=3` (tools/compose/cluster.yaml) a static "detector:9103" target
  // reaches one replica at random on each scrape: their counters mix into one series.
  for (
    const [service, variable] of [
      ["producer", "PRODUCER_PORT"],
      ["bridge", "BRIDGE_PORT"],
      ["archive", "ARCHIVE_PORT"],
      ["detector", "DETECTOR_PORT"],
      ["notifier", "NOTIFIER_PORT"],
      ["web", "WEB_PORT"],
    ]
  ) {
    const port = composeEnvironment(compose, service!)[variable!];
    const job = jobs.get(service!);
    assert.ok(job, `a job "${service}"`);
    assert.doesNotMatch(job, /static_configs/, `${service}: one target per replica, not a name`);
    assert.match(job, new RegExp(`names: \\["${service}"\\]\\s+type: A\\s+port: ${port}\\b`));
  }
  // A gauge every bridge reports alike (the length of the same streams) is not added up.
  const dashboard = await loadDashboard();
  const exprs = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const streamLength = exprs.filter((e) => e?.includes("vigil_bridge_stream_length"));
  assert.deepEqual(streamLength, ["max by (type) (vigil_bridge_stream_length)"]);
});
