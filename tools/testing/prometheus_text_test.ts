import assert from "node:assert/strict";
import { Registry } from "@vigil/shared/metrics";
import { parsePrometheusText } from "./prometheus_text.ts";

Deno.test("parsePrometheusText() reads what shared/metrics.ts renders", async () => {
  const r = new Registry("t");
  r.counter("vigil_t_events_total", "Events\nby type", ["type"]).inc({ type: 'we"ird\\' }, 3);
  r.gauge("vigil_t_lag", "Lag", ["topic", "partition"]).set({ topic: "logs", partition: 2 }, 7);
  const h = r.histogram("vigil_t_seconds", "Latency", ["type"], [0.1, 1]);
  h.observe({ type: "logs" }, 0.05);
  h.observe({ type: "logs" }, 5);
  const families = parsePrometheusText(await r.render());
  assert.deepEqual(families.get("vigil_t_events_total")!.samples, [
    { name: "vigil_t_events_total", labels: { type: 'we"ird\\' }, value: 3 },
  ]);
  assert.equal(families.get("vigil_t_events_total")!.help, "Events\\nby type");
  assert.equal(families.get("vigil_t_lag")!.samples[0]!.labels.partition, "2");
  const hist = families.get("vigil_t_seconds")!;
  assert.equal(hist.type, "histogram");
  assert.deepEqual(
    hist.samples.map((s) => [s.name, s.labels.le ?? "", s.value]),
    [
      ["vigil_t_seconds_bucket", "0.1", 1],
      ["vigil_t_seconds_bucket", "1", 1],
      ["vigil_t_seconds_bucket", "+Inf", 2],
      ["vigil_t_seconds_sum", "", 5.05],
      ["vigil_t_seconds_count", "", 2],
    ],
  );
  assert.ok(families.has("process_resident_memory_bytes"));
});

Deno.test("parsePrometheusText() rejects what promtool would", async (t) => {
  const bad: [string, string, RegExp][] = [
    ["no final newline", "# TYPE a counter\na 1", /newline/],
    ["bad metric name", "# TYPE 1a counter\n", /invalid metric name/],
    ["bad label name", '# TYPE a gauge\na{1x="y"} 1\n', /invalid label name/],
    ["bad escape", '# TYPE a gauge\na{x="\\t"} 1\n', /invalid escape/],
    ["unquoted label", "# TYPE a gauge\na{x=y} 1\n", /not quoted/],
    ["bad value", "# TYPE a gauge\na 1,5\n", /invalid sample value/],
    ["negative counter", "# TYPE a counter\na -1\n", /negative/],
    ["duplicate series", '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /duplicate series/],
    ["two TYPEs", "# TYPE a gauge\n# TYPE a gauge\n", /second TYPE/],
    ["TYPE after samples", "a 1\n# TYPE a gauge\n", /after its samples/],
    ["interleaved", '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n', /not grouped/],
    ["unknown type", "# TYPE a thing\n", /unknown type/],
    [
      "histogram without +Inf",
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
      /\+Inf/,
    ],
    [
      "histogram not cumulative",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
      /cumulative/,
    ],
    [
      "histogram count mismatch",
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
      /differs/,
    ],
    ["histogram without _sum", '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n', /_sum/],
  ];
  for (const [name, text, error] of bad) {
    await t.step(name, () => assert.throws(() => parsePrometheusText(text), error));
  }
});
