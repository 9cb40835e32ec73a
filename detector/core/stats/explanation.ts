/**
 * The explanation of a score: what was expected, what was seen, why the
 * point scored as it did, and one human sentence (built only when read).
 *
 * @module
 */

import type { EngineConfig } from "./config.ts";

/** Which baseline the expected range came from. */
export type Baseline = "none" | "recent" | "time-of-day";

/** Why the point scored as it did. */
export type Reason =
  | "missing"
  | "warming-up"
  | "normal"
  | "deviation"
  | "new-extreme"
  | "new-shape"
  | "early-outlier";

/** What was expected and what was seen, for alerts and the web detail view. */
export interface Explanation {
  /** Lower end of the expected range (NaN when nothing is expected yet). */
  expectedLow: number;
  /** Upper end of the expected range (NaN when nothing is expected yet). */
  expectedHigh: number;
  /** The value seen. */
  observed: number;
  /** Baseline the expected range comes from. */
  baseline: Baseline;
  /** Short classification of the point (the detector with the strongest evidence). */
  reason: Reason;
  /** Whether an alarm-level score was capped because of a recent alarm. */
  suppressed: boolean;
  /** One human sentence, e.g. "Observed 93.1, above the expected range 38.2 to 45.9 …". */
  summary: string;
}
/**
 * A number for a sentence: 4 significant digits (a whole number from 10,000
 * on: not 1,234,567 shown as 1235000), exponent notation when tiny or huge.
 * With `others` (the bounds it is compared with), as many more digits as
 * tell it from each of them it differs from, so a value just past a bound
 * never reads as equal to it ("38.05, above the expected range … to 38.05").
 */
export function fmt(x: number, others: readonly number[] = []): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  const at = (digits: number) =>
    a !== 0 && (a >= 1e7 || a < 1e-4)
      ? x.toExponential(digits - 1)
      : a >= 1e4 && digits <= 7
      ? String(Math.round(x))
      : String(Number(x.toPrecision(digits)));
  const shown = others.filter((o) => Number.isFinite(o) && o !== x).map((o) => fmt(o));
  let text = at(4);
  for (let digits = 5; digits <= 15 && shown.includes(text); digits++) text = at(digits);
  return text;
}

/** The UTC time-of-day span of bucket `b` of `buckets`, e.g. `18:00–18:30 UTC`. */
export function bucketLabel(b: number, buckets: number): string {
  const mins = (m: number) => {
    const t = Math.round(m);
    return `${String(Math.floor(t / 60) % 24).padStart(2, "0")}:${String(t % 60).padStart(2, "0")}`;
  };
  const width = 1440 / buckets;
  return `${mins(b * width)}–${mins((b + 1) * width)} UTC`;
}

/**
 * The {@link Explanation} the engine returns: plain fields, with `summary`
 * built on first read (most points' explanations are never looked at).
 */
export class LazyExplanation implements Explanation {
  #summary: string | undefined = undefined;
  constructor(
    readonly expectedLow: number,
    readonly expectedHigh: number,
    readonly observed: number,
    readonly baseline: Baseline,
    readonly reason: Reason,
    readonly suppressed: boolean,
    readonly score: number,
    readonly bucket: number,
    readonly n: number,
    readonly rangeLo: number,
    readonly rangeHi: number,
    /** Early outlier: the previous value; new shape: ARTime's confidence. */
    readonly detail: number,
    readonly config: EngineConfig,
  ) {}

  get summary(): string {
    return this.#summary ??= summarize(this);
  }

  toJSON(): Explanation {
    return {
      expectedLow: this.expectedLow,
      expectedHigh: this.expectedHigh,
      observed: this.observed,
      baseline: this.baseline,
      reason: this.reason,
      suppressed: this.suppressed,
      summary: this.summary,
    };
  }
}

/** The sentence of an explanation. */
export function summarize(e: LazyExplanation): string {
  const c = e.config;
  // With the digits that tell it from the bounds the sentence compares it with.
  const bounds = [e.expectedLow, e.expectedHigh, e.rangeLo, e.rangeHi];
  const seen = `Observed ${fmt(e.observed, bounds)}`;
  switch (e.reason) {
    case "missing":
      return `Value missing or not a finite number (${e.observed}); skipped.`;
    case "warming-up":
      return `${seen}; still learning this series' normal (${e.n} of ${c.warmupPoints} points).`;
    default: {
      const source = e.baseline === "time-of-day"
        ? `usual for ${bucketLabel(e.bucket, c.seasonBuckets)}`
        : `recent values`;
      const where = e.observed > e.expectedHigh
        ? "above"
        : e.observed < e.expectedLow
        ? "below"
        : "within";
      let text = Number.isFinite(e.expectedLow)
        ? `${seen}, ${where} the expected range ${fmt(e.expectedLow)} to ${
          fmt(e.expectedHigh)
        } (${source})`
        : seen;
      if (e.reason === "new-extreme") {
        const extreme = e.observed > e.rangeHi
          ? `above the highest value (${fmt(e.rangeHi)})`
          : `below the lowest value (${fmt(e.rangeLo)})`;
        text += `, ${extreme} of the last ${c.rangeBlocks * c.rangeBlockSize} points`;
      } else if (e.reason === "new-shape") {
        text += `; the last ${
          c.artWindow * c.artDownsample
        } points form a shape not seen before (ARTime confidence ${e.detail.toFixed(2)})`;
      } else if (e.reason === "early-outlier") {
        text += `; the previous value ${
          fmt(e.detail)
        } was an isolated outlier (this one returned to the usual level)`;
      }
      text += `; anomaly score ${e.score.toFixed(2)}.`;
      if (e.suppressed) {
        text += ` Alarm suppressed: within ${c.cooldownPoints} points of the previous alarm.`;
      }
      return text;
    }
  }
}

/** The explanation of a missing (non-finite) value after `n` finite ones. */
export function missingExplanation(value: number, n: number, c: EngineConfig): LazyExplanation {
  return new LazyExplanation(NaN, NaN, value, "none", "missing", false, 0, 0, n, NaN, NaN, NaN, c);
}
