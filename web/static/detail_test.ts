import assert from "node:assert/strict";
import { seriesThreshold } from "./detail.js";

// The details each rule records (detector/core/rules), as stored in anomaly_events.
const CPU_SUSTAINED = { count: 5, min_cpu: 85.85, threshold: 80, window_ms: 300_000 };
const LATENCY_HIGH = { latency_ms: 1730.1, threshold_ms: 1000 };
const CPU_AND_LATENCY = {
  cpu: 93.54,
  latency_ms: 2696.8,
  cpu_threshold: 80,
  latency_threshold_ms: 1000,
};
const NAMED = { measure: "latency_ms", value: 540, threshold: 500 };

Deno.test("seriesThreshold() draws a rule's threshold on its own measure only", () => {
  // cpu_sustained names no measure: its 80 % used to be drawn on error_rate and latency_ms too.
  assert.equal(seriesThreshold(CPU_SUSTAINED, "cpu"), 80);
  assert.equal(seriesThreshold(CPU_SUSTAINED, "error_rate"), undefined);
  assert.equal(seriesThreshold(CPU_SUSTAINED, "latency_ms"), undefined);
  // latency_high's threshold is `threshold_ms`: it used to be drawn on no series.
  assert.equal(seriesThreshold(LATENCY_HIGH, "latency_ms"), 1000);
  assert.equal(seriesThreshold(LATENCY_HIGH, "cpu"), undefined);
  // cpu_and_latency: each measure its own.
  assert.equal(seriesThreshold(CPU_AND_LATENCY, "cpu"), 80);
  assert.equal(seriesThreshold(CPU_AND_LATENCY, "latency_ms"), 1000);
  assert.equal(seriesThreshold(CPU_AND_LATENCY, "error_rate"), undefined);
  // A rule that names its measure.
  assert.equal(seriesThreshold(NAMED, "latency_ms"), 500);
  assert.equal(seriesThreshold(NAMED, "cpu"), undefined);
});

Deno.test("seriesThreshold() draws none for a threshold of no cached measure", () => {
  // A count rule (error_spike) and the statistical rules: no line on any series.
  assert.equal(seriesThreshold({ count: 20, threshold: 20 }, "cpu"), undefined);
  assert.equal(seriesThreshold({ measure: "cpu", score: 1, expected_low: 1 }, "cpu"), undefined);
  assert.equal(seriesThreshold(undefined, "cpu"), undefined);
  assert.equal(seriesThreshold({ min_cpu: 90, threshold: "80" }, "cpu"), undefined);
});
