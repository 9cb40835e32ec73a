import assert from "node:assert/strict";
import { type BaselineFit, fitBaseline, learnTimeOfDay, timeOfDayBucket } from "./baselines.ts";
import { DEFAULT_ENGINE_CONFIG } from "./config.ts";
import { createSeriesState } from "./series_state.ts";
import { pushValue } from "./sorted_window.ts";
import { prng } from "../../tools/testing/series.ts";

const C = DEFAULT_ENGINE_CONFIG;
const DAY = 86_400_000;

function fit(): BaselineFit {
  return { z: NaN, center: NaN, scale: NaN, floor: NaN, baseline: "none" };
}

Deno.test("timeOfDayBucket() is the UTC half-hour of the day, also before 1970", () => {
  assert.equal(timeOfDayBucket(Date.UTC(2024, 0, 1, 0, 0), 48), 0);
  assert.equal(timeOfDayBucket(Date.UTC(2024, 0, 1, 18, 29, 59), 48), 36);
  assert.equal(timeOfDayBucket(Date.UTC(2024, 0, 1, 23, 59), 48), 47);
  assert.equal(timeOfDayBucket(-1, 48), 47);
});

Deno.test("timeOfDayBucket() equals the remainder formula for every kind of timestamp", () => {
  const reference = (t: number, b: number) => Math.floor(((t % DAY + DAY) % DAY) / DAY * b);
  const rand = prng(12);
  const cases = [0, -0, DAY, -DAY, 3 * DAY - 1, -3 * DAY + 1, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53];
  for (let i = 0; i < 20_000; i++) {
    const t = Math.round((rand() - 0.3) * 4e12); // 1843 to 2096, epoch ms
    cases.push(t, t + 0.5, t * 1000, -t);
  }
  // Either side of midnight, up to the largest safe integers.
  const top = Math.floor(Number.MAX_SAFE_INTEGER / DAY);
  for (const k of [1, 2, 19_700, 20_000, top - 1, top, -top, 1 + Math.floor(rand() * top)]) {
    for (const e of [-2, -1, 0, 1, 2]) cases.push(k * DAY + e);
  }
  cases.push(1.7e12 + 1e-3, 9.3e18, -9.3e18, 1e300, Number.MIN_VALUE);
  for (const t of cases) {
    for (const b of [48, 24, 7]) {
      assert.ok(Object.is(timeOfDayBucket(t, b), reference(t, b)), `${t} in ${b} buckets`);
    }
  }
});

Deno.test("timeOfDayBucket(): each bucket starts at its first millisecond, for any bucket count", () => {
  // Before: ⌊ms / D × buckets⌋ rounded 00:13:00.000 of 1,440 one-minute buckets into bucket 12.
  const t0 = Date.UTC(2024, 0, 1);
  for (const buckets of [48, 24, 7, 96, 100, 1440, 86_400]) {
    for (let b = 0; b < buckets; b++) {
      const start = Math.ceil((b * DAY) / buckets); // first whole ms of bucket b
      assert.equal(timeOfDayBucket(t0 + start, buckets), b, `start of ${b} of ${buckets}`);
      if (b > 0) assert.equal(timeOfDayBucket(t0 + start - 1, buckets), b - 1, `end of ${b - 1}`);
    }
  }
});

Deno.test("fitBaseline(): the recent median and IQR/1.349, after 10 values", () => {
  const s = createSeriesState();
  const out = fitBaseline(s, 5, 0, 0, 0, C, fit());
  assert.deepEqual([out.baseline, out.z, out.floor], ["none", 0, 0]);
  for (let i = 1; i <= 11; i++) pushValue(s.window, i);
  const f = fitBaseline(s, 12, 0, 0, 10, C, fit());
  assert.equal(f.baseline, "recent");
  assert.equal(f.center, 6);
  assert.equal(f.scale, (8.5 - 3.5) / 1.349);
  assert.equal(f.z, 6 / f.scale);
  assert.equal(f.floor, 0.1, "1 % of max(|median|, span)");
});

Deno.test("fitBaseline(): the scale never falls below the floor", () => {
  const s = createSeriesState();
  for (let i = 0; i < 20; i++) pushValue(s.window, 50);
  const f = fitBaseline(s, 50.001, 0, 0, 0, C, fit());
  assert.equal(f.scale, 0.5);
  const z = createSeriesState();
  for (let i = 0; i < 20; i++) pushValue(z.window, 0);
  assert.equal(fitBaseline(z, 1e-9, 0, 0, 0, C, fit()).scale, C.absoluteFloor);
});

Deno.test("fitBaseline(): the time-of-day baseline once it predicts clearly better", () => {
  const s = createSeriesState();
  for (let i = 0; i < 20; i++) pushValue(s.window, i % 2 === 0 ? 0 : 100); // median 50, wide
  s.seasonMean[3] = 10;
  s.seasonDev[3] = 1;
  s.seasonCount[3] = C.seasonMinCount;
  s.errRecent = 40;
  s.errSeason = 1;
  s.firstTs = 0;
  const early = fitBaseline(s, 11, DAY, 3, 100, C, fit());
  assert.equal(early.baseline, "recent", "the series spans less than 2 days");
  const later = fitBaseline(s, 11, 3 * DAY, 3, 100, C, fit());
  assert.equal(later.baseline, "time-of-day");
  assert.equal(later.center, 10);
  assert.equal(later.scale, 1.25, "mean absolute deviation × 1.25 (the floor is 1)");
  s.errSeason = s.errRecent; // no longer better
  assert.equal(fitBaseline(s, 11, 3 * DAY, 3, 100, C, fit()).baseline, "recent");
});

Deno.test("learnTimeOfDay(): a plain average first, then clipped exponential updates", () => {
  const s = createSeriesState();
  learnTimeOfDay(s, 10, 5, 0, C);
  learnTimeOfDay(s, 20, 5, 0, C);
  assert.equal(s.seasonMean[5], 15);
  assert.equal(s.seasonCount[5], 2);
  for (let i = 0; i < 40; i++) learnTimeOfDay(s, 15, 5, 0, C);
  const mean = s.seasonMean[5]!;
  const dev = s.seasonDev[5]!;
  learnTimeOfDay(s, 1e6, 5, 0, C);
  assert.ok(
    Math.abs(s.seasonMean[5]! - (mean + C.seasonAlpha * 4 * 1.25 * dev)) < 1e-9,
    "an outlier moves the mean by at most seasonAlpha × 4σ",
  );
});
