import assert from "node:assert/strict";
import { DEFAULT_ENGINE_CONFIG } from "./config.ts";
import { bucketLabel, fmt, LazyExplanation, missingExplanation } from "./explanation.ts";

const C = DEFAULT_ENGINE_CONFIG;

function explain(o: Partial<{ reason: string; observed: number; suppressed: boolean }>) {
  return new LazyExplanation(
    32.22,
    38.05,
    o.observed ?? 64,
    "time-of-day",
    (o.reason ?? "deviation") as "deviation",
    o.suppressed ?? false,
    0.62,
    36,
    500,
    10,
    70,
    o.reason === "early-outlier" ? 99.5 : 0.734,
    C,
  );
}

Deno.test("fmt() keeps 4 significant digits and switches to exponents for tiny or huge values", () => {
  assert.equal(fmt(32.2249), "32.22");
  assert.equal(fmt(64), "64");
  assert.equal(fmt(0), "0");
  assert.equal(fmt(-0.00012346), "-0.0001235");
  assert.equal(fmt(0.00001234), "1.234e-5");
  assert.equal(fmt(12_345_678), "1.235e+7");
  assert.equal(fmt(NaN), "NaN");
});

Deno.test("fmt() shows whole numbers from 10,000 on, and the digits that tell a value from its bound", () => {
  assert.equal(fmt(1_234_567), "1234567");
  assert.equal(fmt(12_345.6), "12346");
  assert.equal(fmt(9_999.44), "9999");
  // Just past the bound: as many digits as tell them apart, none when they are equal.
  assert.equal(fmt(38.0512, [32.22, 38.0498]), "38.051");
  assert.equal(fmt(38.05, [32.22, 38.05]), "38.05");
  assert.equal(fmt(1_234_567.4, [1_234_567.2]), "1234567.4");
  assert.equal(fmt(12_345_678, [12_345_600]), "1.2346e+7");
  assert.equal(
    explain({ observed: 38.0512 }).summary.slice(0, 60),
    "Observed 38.051, above the expected range 32.22 to 38.05 (us",
  );
});

Deno.test("bucketLabel() gives the UTC span of a time-of-day bucket", () => {
  assert.equal(bucketLabel(36, 48), "18:00–18:30 UTC");
  assert.equal(bucketLabel(47, 48), "23:30–00:00 UTC");
  assert.equal(bucketLabel(0, 24), "00:00–01:00 UTC");
});

Deno.test("summary: the value against the expected range and the baseline", () => {
  assert.equal(
    explain({}).summary,
    "Observed 64, above the expected range 32.22 to 38.05 (usual for 18:00–18:30 UTC); anomaly score 0.62.",
  );
  assert.match(explain({ observed: 35 }).summary, /^Observed 35, within the expected range/);
  assert.match(explain({ observed: 1 }).summary, /^Observed 1, below the expected range/);
});

Deno.test("summary: each reason says what was found", () => {
  assert.match(
    explain({ reason: "new-extreme", observed: 80 }).summary,
    /above the highest value \(70\) of the last 2000 points/,
  );
  assert.match(
    explain({ reason: "new-extreme", observed: 5 }).summary,
    /below the lowest value \(10\) of the last 2000 points/,
  );
  assert.match(
    explain({ reason: "new-shape" }).summary,
    /the last 48 points form a shape not seen before \(ARTime confidence 0\.73\)/,
  );
  assert.match(
    explain({ reason: "early-outlier" }).summary,
    /the previous value 99\.5 was an isolated outlier/,
  );
  assert.match(
    explain({ suppressed: true }).summary,
    /Alarm suppressed: within 150 points of the previous alarm\.$/,
  );
  assert.equal(
    explain({ reason: "warming-up" }).summary,
    "Observed 64; still learning this series' normal (500 of 60 points).",
  );
});

Deno.test("missingExplanation() and toJSON(): plain fields with the sentence", () => {
  const m = missingExplanation(NaN, 12, C);
  assert.equal(m.reason, "missing");
  assert.equal(m.summary, "Value missing or not a finite number (NaN); skipped.");
  assert.ok(Number.isNaN(m.expectedLow) && Number.isNaN(m.expectedHigh));
  const json = JSON.parse(JSON.stringify(explain({})));
  assert.deepEqual(Object.keys(json), [
    "expectedLow",
    "expectedHigh",
    "observed",
    "baseline",
    "reason",
    "suppressed",
    "summary",
  ]);
  assert.equal(json.summary, explain({}).summary);
});
