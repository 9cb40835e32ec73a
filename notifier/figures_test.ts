import assert from "node:assert/strict";
import type { Alert } from "@vigil/shared/schemas/alert";
import { alertFigures, fmtNumber, valueVsThreshold } from "./figures.ts";

type Row = Pick<Alert, "details" | "score" | "severity" | "status" | "resolved_at">;

function row(details: Record<string, unknown>, over: Partial<Row> = {}): Row {
  return {
    details,
    score: null,
    severity: "WARNING",
    status: "firing",
    resolved_at: null,
    ...over,
  };
}

Deno.test("valueVsThreshold() shows the observed value and the threshold of each rule's details", async (t) => {
  // Details as the detector's rules write them (detector/core/rules/*.ts).
  const cases: [string, Row, string][] = [
    ["generic value/threshold", row({ value: 97.25, threshold: 90 }), "97.25 vs 90"],
    [
      "latency_high (score = the latency, not shown)",
      row({ latency_ms: 19314.57, threshold_ms: 500 }, { score: 19314.57 }),
      "19314.57 ms vs 500 ms",
    ],
    [
      "amount_high",
      row({ amount: 1200, currency: "EUR", threshold: 1000, transaction_id: "t1" }, {
        score: 1200,
      }),
      "1200 EUR vs 1000 EUR",
    ],
    [
      "count rule (error_spike, user_frequency)",
      row({ count: 12, threshold: 10, window_ms: 300_000 }, { score: 12 }),
      "12 in 5 min vs 10",
    ],
    [
      "cpu_sustained",
      row({ min_cpu: 95, threshold: 90, readings: [95, 97] }, { score: 95 }),
      "lowest 95% vs 90%",
    ],
    [
      "cpu_and_latency",
      row({ cpu: 95, latency_ms: 1200, cpu_threshold: 90, latency_threshold_ms: 500 }),
      "CPU 95% vs 90%, latency 1200 ms vs 500 ms",
    ],
    [
      "metric_score (statistical: the score with its band)",
      row({
        measure: "latency_ms",
        value: 19314.57,
        score: 0.99934,
        expected_low: 101.5,
        expected_high: 250,
        bands: { warning: 0.5, critical: 0.9, clear: 0.3 },
      }, { score: 0.99934, severity: "CRITICAL" }),
      "latency_ms 19314.57 vs expected 101.5–250 · score 0.9993 (critical ≥ 0.9)",
    ],
    [
      "entity_score (drivers first)",
      row({
        score: 0.7,
        drivers: ["cpu"],
        measures: [
          { measure: "latency_ms", value: 120, score: 0.1 },
          { measure: "cpu", value: 97, score: 0.8 },
        ],
        bands: { warning: 0.5, critical: 0.9 },
      }, { score: 0.7 }),
      "cpu 97, latency_ms 120 · score 0.7 (warning ≥ 0.5)",
    ],
    [
      "status_zscore",
      row({ count: 45, mean: 3.1, std: 1.2, z: 13.5, warning: 3, critical: 5 }, {
        score: 13.5,
        severity: "CRITICAL",
      }),
      "45 in the minute vs mean 3.1 · z 13.5 (critical ≥ 5)",
    ],
    [
      "status_zscore without a baseline",
      row({ count: 4, mean: null, z: null, warning: 3, critical: 5 }),
      "4 in the minute vs no baseline yet",
    ],
    ["failed_message (no figure)", row({ level: "ERROR", contains: "failed" }), ""],
    ["no details, a score: not shown for a threshold rule", row({}, { score: 3.14 }), ""],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(valueVsThreshold(input), expected));
  }
});

Deno.test("valueVsThreshold() says when a resolved alert resolved and what it fired at", () => {
  assert.equal(
    valueVsThreshold(
      row({ latency_ms: 1200, threshold_ms: 500 }, {
        status: "resolved",
        resolved_at: "2025-03-01T10:21:05.120Z",
      }),
    ),
    "resolved at 10:21:05 UTC (fired at 1200 ms vs 500 ms)",
  );
  assert.equal(
    valueVsThreshold(row({}, { status: "resolved", resolved_at: null })),
    "resolved",
  );
});

Deno.test("valueVsThreshold() says what a resolved alert resolved at when the value is known", async (t) => {
  const resolved = (
    details: Record<string, unknown>,
    value: number,
    reading?: Record<string, unknown>,
  ) => ({
    ...row(details, { status: "resolved", resolved_at: "2025-03-01T10:21:05.120Z" }),
    resolved_value: value,
    ...(reading ? { resolved_details: reading } : {}),
  });
  const cases: [string, ReturnType<typeof resolved>, string][] = [
    [
      "latency_high",
      resolved({ latency_ms: 1200, threshold_ms: 500 }, 320, { latency_ms: 320 }),
      "resolved at 320 ms (threshold 500 ms), 10:21:05 UTC",
    ],
    [
      "cpu_sustained (the reading that broke the run)",
      resolved({ min_cpu: 95, threshold: 90, count: 5 }, 42.5, { min_cpu: 42.5 }),
      "resolved at 42.5% (threshold 90%), 10:21:05 UTC",
    ],
    [
      "metric_score (the expected range at the clearing reading)",
      resolved(
        { measure: "latency_ms", value: 1930, expected_low: 100, expected_high: 250, bands: {} },
        120,
        { value: 120, expected_low: 90, expected_high: 260, score: 0.1 },
      ),
      "resolved at latency_ms 120 (expected 90–260), 10:21:05 UTC",
    ],
    [
      "a value without details: the firing threshold",
      resolved({ value: 97, threshold: 90 }, 80),
      "resolved at 80 (threshold 90), 10:21:05 UTC",
    ],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => assert.equal(valueVsThreshold(input), expected));
  }
  // A null value (the rule did not know it) reads as before.
  assert.equal(
    valueVsThreshold({
      ...resolved({ latency_ms: 1200, threshold_ms: 500 }, 0),
      resolved_value: null,
    }),
    "resolved at 10:21:05 UTC (fired at 1200 ms vs 500 ms)",
  );
});

Deno.test("alertFigures() gives the score only for statistical rules", () => {
  assert.equal(alertFigures(row({ value: 1, threshold: 2 }, { score: 1 })).score, undefined);
  assert.equal(
    alertFigures(row({ measure: "m", value: 1, score: 0.6, bands: {} })).score,
    "score 0.6",
  );
});

Deno.test("fmtNumber() keeps integers, 4 significant digits below 1000, 2 decimals above", () => {
  assert.equal(fmtNumber(90), "90");
  assert.equal(fmtNumber(0.999341), "0.9993");
  assert.equal(fmtNumber(3.1), "3.1");
  assert.equal(fmtNumber(19314.5712), "19314.57");
  assert.equal(fmtNumber(1.12754903556502e-10), "1.128e-10");
  assert.equal(fmtNumber(1e-10), "1e-10", "zeros of the digits trimmed, not of the exponent");
  assert.equal(fmtNumber(Number.NaN), null);
});
