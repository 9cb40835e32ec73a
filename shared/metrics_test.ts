import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, Registry } from "./metrics.ts";

/** Lines of `text` that are samples (not comments). */
function samples(text: string): string[] {
  return text.split("\n").filter((l) => l && !l.startsWith("#"));
}

Deno.test("Counter.render() writes HELP, TYPE and one sample per label set", () => {
  const c = new Counter("vigil_bridge_messages_total", "Messages appended", ["type"]);
  c.inc({ type: "logs" });
  c.inc({ type: "logs" }, 2);
  c.inc({ type: "metrics" });
  assert.equal(
    c.render(),
    "# HELP vigil_bridge_messages_total Messages appended\n" +
      "# TYPE vigil_bridge_messages_total counter\n" +
      'vigil_bridge_messages_total{type="logs"} 3\n' +
      'vigil_bridge_messages_total{type="metrics"} 1\n',
  );
  assert.equal(c.get({ type: "logs" }), 3);
  assert.equal(c.get({ type: "transactions" }), 0);
});

Deno.test("Counter without labels renders 0 before the first inc", () => {
  const c = new Counter("vigil_x_total", "X");
  assert.deepEqual(samples(c.render()), ["vigil_x_total 0"]);
  c.inc();
  assert.deepEqual(samples(c.render()), ["vigil_x_total 1"]);
});

Deno.test("Counter.inc() rejects negative and NaN increments and missing labels", () => {
  const c = new Counter("vigil_x_total", "X", ["type"]);
  assert.throws(() => c.inc({ type: "a" }, -1), RangeError);
  assert.throws(() => c.inc({ type: "a" }, NaN), RangeError);
  assert.throws(() => c.inc({}), /label "type" is missing/);
  assert.equal(c.get({ type: "a" }), 0);
});

Deno.test("render() escapes label values and HELP text", () => {
  const c = new Counter("vigil_x_total", 'Help with \\ backslash\nand newline "quoted"', [
    "rule",
    "severity",
  ]);
  c.inc({ rule: 'say "hi"\\now\nthen', severity: "INFO" });
  const text = c.render();
  assert.ok(
    text.startsWith('# HELP vigil_x_total Help with \\\\ backslash\\nand newline "quoted"\n'),
    text,
  );
  assert.deepEqual(samples(text), [
    'vigil_x_total{rule="say \\"hi\\"\\\\now\\nthen",severity="INFO"} 1',
  ]);
  // Label names appear in declaration order whatever the object's key order.
  const d = new Counter("vigil_y_total", "Y", ["a", "b"]);
  d.inc({ b: "2", a: 1 });
  assert.deepEqual(samples(d.render()), ['vigil_y_total{a="1",b="2"} 1']);
});

Deno.test("Gauge sets, moves and renders special values", () => {
  const g = new Gauge("vigil_bridge_consumer_lag", "Lag", ["topic", "partition"]);
  g.set({ topic: "logs", partition: 0 }, 5);
  g.inc({ topic: "logs", partition: 0 }, 2);
  g.dec({ topic: "logs", partition: 0 });
  g.set({ topic: "logs", partition: 1 }, Infinity);
  g.set({ topic: "logs", partition: 2 }, -Infinity);
  g.set({ topic: "logs", partition: 3 }, NaN);
  assert.ok(g.render().includes("# TYPE vigil_bridge_consumer_lag gauge\n"));
  assert.deepEqual(samples(g.render()), [
    'vigil_bridge_consumer_lag{topic="logs",partition="0"} 6',
    'vigil_bridge_consumer_lag{topic="logs",partition="1"} +Inf',
    'vigil_bridge_consumer_lag{topic="logs",partition="2"} -Inf',
    'vigil_bridge_consumer_lag{topic="logs",partition="3"} NaN',
  ]);
  g.reset();
  assert.deepEqual(samples(g.render()), []);
});

Deno.test("Histogram renders cumulative buckets, +Inf, _sum and _count", () => {
  const h = new Histogram("vigil_detector_latency_seconds", "Latency", ["type"], [1, 0.1, 0.5]);
  assert.deepEqual(h.buckets, [0.1, 0.5, 1]);
  for (const v of [0.05, 0.1, 0.3, 0.7, 2, 5]) h.observe({ type: "logs" }, v);
  h.observe({ type: "logs" }, NaN); // ignored
  assert.equal(h.count({ type: "logs" }), 6);
  const text = h.render();
  assert.ok(text.includes("# TYPE vigil_detector_latency_seconds histogram\n"));
  assert.deepEqual(samples(text), [
    'vigil_detector_latency_seconds_bucket{type="logs",le="0.1"} 2',
    'vigil_detector_latency_seconds_bucket{type="logs",le="0.5"} 3',
    'vigil_detector_latency_seconds_bucket{type="logs",le="1"} 4',
    'vigil_detector_latency_seconds_bucket{type="logs",le="+Inf"} 6',
    'vigil_detector_latency_seconds_sum{type="logs"} 8.15',
    'vigil_detector_latency_seconds_count{type="logs"} 6',
  ]);
});

Deno.test("Histogram without labels uses only le in bucket lines", () => {
  const h = new Histogram("vigil_x_seconds", "X");
  h.observe(undefined, 0.003);
  const lines = samples(h.render());
  assert.equal(lines.length, LATENCY_BUCKETS.length + 3);
  assert.equal(lines[0], 'vigil_x_seconds_bucket{le="0.001"} 0');
  assert.equal(lines[2], 'vigil_x_seconds_bucket{le="0.005"} 1');
  assert.equal(lines.at(-3), 'vigil_x_seconds_bucket{le="+Inf"} 1');
  assert.equal(lines.at(-2), "vigil_x_seconds_sum 0.003");
  assert.equal(lines.at(-1), "vigil_x_seconds_count 1");
  // Buckets never decrease.
  const counts = lines.slice(0, -2).map((l) => Number(l.split(" ")[1]));
  for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!);
});

Deno.test("Registry renders every metric, runs collectors and lists names", async () => {
  const r = new Registry("bridge");
  let depth = 0;
  r.counter("vigil_bridge_messages_total", "Messages", ["type"]).inc({ type: "logs" });
  r.gauge("vigil_bridge_stream_length", "Length", ["type"], (g) => {
    g.set({ type: "logs" }, ++depth);
  });
  r.gauge("vigil_bridge_broken", "Collector that throws", [], () => {
    throw new Error("redis down");
  });
  r.histogram("vigil_bridge_append_seconds", "Append").observe(undefined, 0.002);
  assert.deepEqual(
    r.names().filter((n) => n.startsWith("vigil_")),
    [
      "vigil_bridge_messages_total",
      "vigil_bridge_stream_length",
      "vigil_bridge_broken",
      "vigil_bridge_append_seconds",
    ],
  );
  assert.ok(r.names().includes("process_resident_memory_bytes"));
  const text = await r.render();
  assert.match(text, /^vigil_bridge_stream_length\{type="logs"\} 1$/m);
  assert.match(text, /^process_resident_memory_bytes [1-9]\d*$/m);
  assert.match(text, /^vigil_bridge_broken 0$/m);
  assert.match(await r.render(), /^vigil_bridge_stream_length\{type="logs"\} 2$/m);
  // Every sample line is `name{labels} value` with a registered name.
  const names = new Set(r.names());
  for (const line of samples(text)) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(m, line);
    const base = m[1]!.replace(/_(bucket|sum|count)$/, "");
    assert.ok(names.has(m[1]!) || names.has(base), line);
  }
});

Deno.test("Registry returns the same metric on re-registration, and refuses a clash", () => {
  const r = new Registry("x");
  const a = r.counter("vigil_x_total", "X");
  assert.equal(r.counter("vigil_x_total", "X again"), a);
  assert.throws(() => r.gauge("vigil_x_total", "X"), /already registered as a counter/);
  assert.throws(() => r.counter("vigil-x", "bad"), /invalid name/);
});
