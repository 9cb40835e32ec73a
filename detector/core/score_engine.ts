/**
 * The port between the `metric_score` rule and the statistical engine
 * (`detector/core/stats/engine.ts`, owned by the stats work): score one reading of
 * a series in 0..1, and save/restore a series' state for checkpoints.
 *
 * @module
 */
import * as stats from "./stats/engine.ts";
import type { Explanation } from "./stats/explanation.ts";
import { calibratedScore } from "./stats/likelihood.ts";

/** Why a reading scored what it did (what the engine's {@link Explanation} says; `suppressed`: may be left out). */
export type ScoreExplanation =
  & Pick<Explanation, "expectedLow" | "expectedHigh" | "observed" | "summary">
  & Partial<Pick<Explanation, "suppressed">>;

/** What the detector needs from a streaming scorer. */
export interface ScoreEngine<S = unknown> {
  /** State of a new series. */
  create(): S;
  /** Score one reading (0 normal .. 1 certainly anomalous); may update `state` in place. */
  update(state: S, timestampMs: number, value: number): {
    state: S;
    score: number;
    explanation: ScoreExplanation;
  };
  serialize(state: S): string;
  /** @throws {Error} when `text` is not a serialized state */
  restore(text: string): S;
}

/**
 * Score bands that match the shipped engine configuration, for the
 * `metric_score` and `entity_score` rules (`rules.json` →
 * `metrics.metric_score.bands`, `metrics.entity_score.bands`):
 *
 * - `warning` = the engine's alarm score (0.5): the strongest detector's
 *   tail probability is at most `alarmProbability` (1e-6), ARTime's
 *   confidence reaches its threshold, or a new extreme;
 * - `critical` = 0.9: tail probability ≤ 1e-6^1.8 ≈ 1.6e-11, a very
 *   confident novel shape, or a new extreme (score 1);
 * - `clear` = 0.3: the engine's cap for a repeated alarm within its cooldown
 *   is 0.3, so an incident clears once scores fall back below that.
 *
 * These are the bands the NAB figures in `docs/statistics.md` were measured
 * at (threshold 0.5).
 */
export const ENGINE_SCORE_BANDS: Readonly<{ warning: number; critical: number; clear: number }> =
  Object.freeze({
    warning: stats.DEFAULT_ENGINE_CONFIG.alarmScore,
    critical: 0.9,
    clear: stats.DEFAULT_ENGINE_CONFIG.suppressedScore,
  });

/** Tail probability that the shipped engine scores {@link ENGINE_SCORE_BANDS}.warning (1e-6). */
export const ENGINE_ALARM_PROBABILITY: number = stats.DEFAULT_ENGINE_CONFIG.alarmProbability;

/**
 * The tail probability an engine score stands for: the inverse of the
 * engine's calibration, p = α^(2 × score) with α =
 * {@link ENGINE_ALARM_PROBABILITY} (score 0.5 → 1e-6, 1 → 1e-12, 0 → 1).
 * The calibration adds α² to p so that scores stay below 1; ignoring it here
 * never claims more evidence than the score holds (back and forth, a score
 * moves by less than 0.003 up to 0.9). Used to combine the scores of several
 * measures (`entity_score`).
 */
export function scoreToProbability(score: number): number {
  const s = Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0;
  return Math.pow(ENGINE_ALARM_PROBABILITY, 2 * s);
}

/** A tail probability on the engine's score scale (the engine's own calibration). */
export function probabilityToScore(p: number): number {
  return calibratedScore(p, ENGINE_ALARM_PROBABILITY);
}

/**
 * The real engine. The detector calls it without arguments and so runs the
 * one shipped configuration ({@link stats.DEFAULT_ENGINE_CONFIG}); `config`
 * exists for the ablation benchmark only.
 *
 * @throws {RangeError} if `config` is invalid.
 */
export function createStatsEngine(
  config: Readonly<stats.EngineConfig> = stats.DEFAULT_ENGINE_CONFIG,
): ScoreEngine<stats.SeriesState> {
  stats.validateConfig(config);
  return {
    create: () => stats.createSeriesState(config),
    update: (state, t, value) => stats.update(state, t, value, config),
    serialize: (state) => stats.serializeState(state),
    restore: (text) => stats.restoreState(text),
  };
}
