/**
 * Generated series for the engine's tests and benchmark (no data files):
 * a seeded PRNG and a 5-minute-cadence daily pattern with Gaussian noise.
 *
 * @module
 */

import {
  DEFAULT_ENGINE_CONFIG,
  type EngineConfig,
  type SeriesState,
  update,
  type UpdateResult,
} from "../../core/stats/engine.ts";

/** 5 minutes in milliseconds: the cadence of generated series. */
export const STEP_MS = 300_000;
/** 2024-01-01T00:00:00Z. */
export const T0 = Date.UTC(2024, 0, 1);

/** Mulberry32: a small seeded PRNG returning numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from `rand` (Box–Muller). */
export function gaussian(rand: () => number): () => number {
  return () => {
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
}

/** Options of {@link dailySeries}. */
export interface DailyOptions {
  points: number;
  seed?: number;
  level?: number;
  /** Amplitude of the daily sine. */
  amplitude?: number;
  /** Standard deviation of the noise. */
  noise?: number;
}

/** `points` values at 5-minute steps from {@link T0}: level + daily sine + noise. */
export function dailySeries(o: DailyOptions): { ts: number[]; values: number[] } {
  const normal = gaussian(prng(o.seed ?? 1));
  const level = o.level ?? 50;
  const amplitude = o.amplitude ?? 10;
  const noise = o.noise ?? 1;
  const ts: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < o.points; i++) {
    const t = T0 + i * STEP_MS;
    ts.push(t);
    values.push(level + amplitude * Math.sin((2 * Math.PI * t) / 86_400_000) + noise * normal());
  }
  return { ts, values };
}

/** Feeds every point to `state` and returns all results. */
export function feed(
  state: SeriesState,
  ts: readonly number[],
  values: readonly number[],
  config: EngineConfig = DEFAULT_ENGINE_CONFIG,
): UpdateResult[] {
  const out: UpdateResult[] = [];
  for (let i = 0; i < values.length; i++) out.push(update(state, ts[i]!, values[i]!, config));
  return out;
}

/** The scores of `results`. */
export function scoresOf(results: readonly UpdateResult[]): number[] {
  return results.map((r) => r.score);
}
