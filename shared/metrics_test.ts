import assert from "node:assert/strict";
import { declareMetrics, LATENCY_BUCKETS, Registry } from "./metrics.ts";
import { sampleValue } from "@vigil/tools/testing/metrics";

/** Sample lines of `text` (no comments, no blank lines). */
function samples(text: string): string[] {
  return text.split("\n").filter((l) => l && !l.startsWith("#"));
}

Deno.test("Registry renders prom-client metrics with labels, help and type", async () => {
  const r = new Registry();
  const c = r.counter("vigil_bridge_messages_total", "Valid events appended", ["type"]);
  c.inc({ type: "logs" });
  c.inc({ type: "logs" }, 2);
  r.counter("vigil_bridge_redis_errors_total", "Failed appends").inc(4);
  const text = await r.render();
  assert.match(text, /^# HELP vigil_bridge_messages_total Valid events appended$/m);
  assert.match(text, /^# TYPE vigil_bridge_messages_total counter$/m);
  assert.ok(samples(text).includes('vigil_bridge_messages_total{type="logs"} 3'));
  assert.ok(samples(text).includes("vigil_bridge_redis_errors_total 4"));
  assert.equal(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
  c.inc({ type: "metrics" });
  assert.equal(await sampleValue(c, { type: "logs" }), 3);
  assert.equal(await sampleValue(c, { type: "transactions" }), 0);
  assert.equal(await sampleValue(c), 4, "every series");
});

Deno.test("Registry.histogram() uses the latency buckets unless given others", async () => {
  const r = new Registry();
  r.histogram("vigil_x_seconds", "X").observe(0.003);
  r.histogram("vigil_y_size", "Y", ["type"], [1, 10]).observe({ type: "logs" }, 5);
  const lines = samples(await r.render());
  const x = lines.filter((l) => l.startsWith("vigil_x_seconds_bucket"));
  assert.equal(x.length, LATENCY_BUCKETS.length + 1);
  assert.ok(lines.includes('vigil_x_seconds_bucket{le="0.0025"} 0'));
  assert.ok(lines.includes('vigil_x_seconds_bucket{le="0.005"} 1'));
  assert.ok(lines.includes('vigil_x_seconds_bucket{le="+Inf"} 1'));
  assert.ok(lines.includes("vigil_x_seconds_count 1"));
  assert.ok(lines.includes('vigil_y_size_bucket{le="1",type="logs"} 0'));
  assert.ok(lines.includes('vigil_y_size_bucket{le="10",type="logs"} 1'));
});

Deno.test("Registry.gauge() collects at scrape time, and a failing collect keeps the scrape", async () => {
  const r = new Registry();
  let n = 0;
  r.gauge("vigil_bridge_stream_length", "Length", ["type"], (g) => g.set({ type: "logs" }, ++n));
  r.gauge("vigil_bridge_broken", "Collect that throws", [], () => {
    throw new Error("redis down");
  });
  assert.ok(samples(await r.render()).includes('vigil_bridge_stream_length{type="logs"} 1'));
  const text = await r.render();
  assert.ok(samples(text).includes('vigil_bridge_stream_length{type="logs"} 2'));
  assert.ok(samples(text).includes("vigil_bridge_broken 0"));
});

Deno.test("Registry returns the same metric on re-registration, and refuses a clash", () => {
  const r = new Registry();
  const a = r.counter("vigil_x_total", "X");
  assert.equal(r.counter("vigil_x_total", "X again"), a);
  assert.throws(() => r.gauge("vigil_x_total", "X"), /already registered as another type/);
  assert.throws(() => r.counter("vigil-x", "bad"), /Invalid metric name/);
});

Deno.test("Registry has the process metrics, resident memory without reading /proc", async () => {
  const r = new Registry();
  const text = await r.render();
  assert.match(text, /^process_resident_memory_bytes [1-9]\d*$/m);
  assert.match(text, /^process_start_time_seconds [1-9]\d*$/m);
  assert.match(text, /^process_cpu_seconds_total \S+$/m);
  assert.match(text, /^nodejs_heap_size_used_bytes [1-9]\d*$/m);
  // The /proc-based defaults (zero under Deno's task permissions) are not exported.
  assert.doesNotMatch(text, /^process_(virtual_memory|heap)_bytes|^process_open_fds/m);
  assert.equal(r.names().filter((n) => n === "process_resident_memory_bytes").length, 1);
});

Deno.test("declareMetrics() registers a table in its order, each by its kind", async () => {
  const r = new Registry();
  let collected = 0;
  const m = declareMetrics(r, {
    appended: { kind: "counter", name: "vigil_x_appended_total", help: "A", labels: ["type"] },
    errors: { kind: "counter", name: "vigil_x_errors_total", help: "E" },
    size: { kind: "histogram", name: "vigil_x_size", help: "S", buckets: [1, 10] },
    length: {
      kind: "gauge",
      name: "vigil_x_length",
      help: "L",
      labels: ["type"],
      collect: (g) => g.set({ type: "logs" }, ++collected),
    },
  });
  m.appended.inc({ type: "logs" }, 2);
  m.errors.inc();
  m.size.observe(5);
  const text = await r.render();
  assert.deepEqual(r.names().filter((n) => n.startsWith("vigil_x_")), [
    "vigil_x_appended_total",
    "vigil_x_errors_total",
    "vigil_x_size",
    "vigil_x_length",
  ]);
  assert.match(text, /^# HELP vigil_x_appended_total A$/m);
  assert.match(text, /^# TYPE vigil_x_size histogram$/m);
  assert.match(text, /^# TYPE vigil_x_length gauge$/m);
  const lines = samples(text);
  assert.ok(lines.includes('vigil_x_appended_total{type="logs"} 2'));
  assert.ok(lines.includes("vigil_x_errors_total 1"));
  assert.ok(lines.includes('vigil_x_size_bucket{le="10"} 1'));
  assert.ok(lines.includes('vigil_x_length{type="logs"} 1'));
  assert.equal(
    declareMetrics(r, { again: { kind: "counter", name: "vigil_x_errors_total", help: "E" } })
      .again,
    m.errors,
  );
});

Deno.test("Registry.gauge() answers the scrape with the last values when a collect hangs", async () => {
  // A Redis or PostgreSQL that is down or hung holds a collect's query (ioredis retries it 20
  // times): /metrics must answer before the scraper gives up, or the service looks dead.
  const r = new Registry({ collectTimeoutMs: 50 });
  let calls = 0;
  let hang = false;
  const never = new Promise<void>(() => {});
  r.gauge("vigil_x_length", "L", ["type"], async (g) => {
    calls++;
    if (hang) await never;
    g.set({ type: "logs" }, 7);
  });
  assert.ok(samples(await r.render()).includes('vigil_x_length{type="logs"} 7'));
  hang = true;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const text = await r.render();
    // The collect never ends: without the timeout (50 ms) the scrape never answered.
    assert.ok(performance.now() - started < 5000, "answered without waiting for the collect");
    assert.ok(samples(text).includes('vigil_x_length{type="logs"} 7'), "the last value kept");
  }
  assert.equal(calls, 2, "a collect still running is not started again on every scrape");
});
