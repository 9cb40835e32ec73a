/**
 * The engine's configuration: its parameters, the one shipped configuration
 * and the validation of a configuration.
 *
 * @module
 */

import { z } from "zod";
import { type ArtimeConfig, DEFAULT_ARTIME_CONFIG } from "./artime_state.ts";
import type { LikelihoodConfig } from "./likelihood.ts";

/**
 * Engine parameters. Counts are in points (the figures in parentheses are for
 * a 5-minute cadence). Ship {@link DEFAULT_ENGINE_CONFIG}; it is the one
 * configuration the figures in `docs/statistics.md` are for.
 */
export interface EngineConfig extends LikelihoodConfig, ArtimeConfig {
  /** Points in the recent baseline window (1 day). @default {288} */
  windowSize: number;
  /** UTC time-of-day buckets of the seasonal baseline (30 min each). @default {48} */
  seasonBuckets: number;
  /** Weight of a new value in its bucket's mean/deviation. @default {0.05} */
  seasonAlpha: number;
  /** Visits a bucket needs before it is used. @default {5} */
  seasonMinCount: number;
  /** Milliseconds of history before the seasonal baseline is used. @default {172800000} (2 days) */
  seasonMinSpanMs: number;
  /**
   * The seasonal baseline is used when its mean absolute error is below this
   * fraction of the recent baseline's. @default {0.8}
   */
  seasonAdvantage: number;
  /** Weight of a new point in the two baselines' running absolute errors. @default {0.01} */
  errorAlpha: number;
  /**
   * Smallest scale (σ) of the baselines, as a fraction of max(|median|, recent
   * range): a constant or near-constant series does not turn a tiny change
   * into a huge z-score. @default {0.01}
   */
  relativeFloor: number;
  /**
   * Smallest scale (σ) of the baselines in the series' own units, for a series
   * that sits at exactly 0 (where the relative floor is 0): changes below about
   * this size never score high. @default {1e-6}
   */
  absoluteFloor: number;
  /** |z| up to which the raw score is 0. @default {2} */
  deviationFree: number;
  /** Raw score = 1 − exp(−(|z| − deviationFree) / deviationScale). @default {3} */
  deviationScale: number;
  /** Points before any non-zero score (learning only). @default {60} */
  warmupPoints: number;
  /**
   * Points of the early phase: until then only isolated outliers are scored
   * (the likelihood, new-extreme and shape detectors need more history).
   * @default {300}
   */
  earlyPoints: number;
  /**
   * An early outlier must be followed by a value within this fraction of
   * its deviation from the level before it (it returned). @default {0.25}
   */
  earlyReturn: number;
  /**
   * Score by the anomaly likelihood of the raw scores (true, shipped) or by
   * the raw score itself (false: the plain robust z-score reference, kept for
   * the ablation benchmark). @default {true}
   */
  likelihood: boolean;
  /** Points per block of the new-extreme range. @default {50} */
  rangeBlockSize: number;
  /** Blocks of the new-extreme range (2000 points ≈ 1 week). @default {40} */
  rangeBlocks: number;
  /** Margin beyond the range, as a fraction of it, for a new extreme. @default {0.15} */
  rangeTolerance: number;
  /** Run the ARTime shape detector. @default {true} */
  artime: boolean;
  /** ARTime confidence that scores `alarmScore` (its alarm threshold). @default {0.6} */
  artimeThreshold: number;
  /** Tail probability that scores `alarmScore`: the calibration of every detector. @default {1e-6} */
  alarmProbability: number;
  /** Score at which a point is an alarm. @default {0.5} */
  alarmScore: number;
  /** Points after an alarm during which further alarms are suppressed (12.5 h). @default {150} */
  cooldownPoints: number;
  /** Score a suppressed alarm is capped at. @default {0.3} */
  suppressedScore: number;
}

/** The one shipped configuration (used by the detector service and the backtest). */
export const DEFAULT_ENGINE_CONFIG: Readonly<EngineConfig> = Object.freeze({
  windowSize: 288,
  seasonBuckets: 48,
  seasonAlpha: 0.05,
  seasonMinCount: 5,
  seasonMinSpanMs: 2 * 86_400_000,
  seasonAdvantage: 0.8,
  errorAlpha: 0.01,
  relativeFloor: 0.01,
  absoluteFloor: 1e-6,
  deviationFree: 2,
  deviationScale: 3,
  averagingWindow: 10,
  blockSize: 100,
  blocks: 40,
  minMean: 0.03,
  minStd: 0.0173,
  warmupPoints: 60,
  earlyPoints: 300,
  earlyReturn: 0.25,
  likelihood: true,
  rangeBlockSize: 50,
  rangeBlocks: 40,
  rangeTolerance: 0.15,
  ...DEFAULT_ARTIME_CONFIG,
  artime: true,
  artimeThreshold: 0.6,
  alarmProbability: 1e-6,
  alarmScore: 0.5,
  cooldownPoints: 150,
  suppressedScore: 0.3,
});

const positiveInt = z.number().int().positive();
const configSchema = z.object({
  windowSize: positiveInt.min(10),
  seasonBuckets: positiveInt,
  seasonAlpha: z.number().gt(0).lte(1),
  seasonMinCount: z.number().int().nonnegative(),
  seasonMinSpanMs: z.number().nonnegative(),
  seasonAdvantage: z.number().nonnegative(),
  errorAlpha: z.number().gt(0).lte(1),
  relativeFloor: z.number().nonnegative(),
  absoluteFloor: z.number().positive(),
  deviationFree: z.number().nonnegative(),
  deviationScale: z.number().positive(),
  averagingWindow: positiveInt,
  blockSize: positiveInt,
  blocks: positiveInt,
  minMean: z.number().nonnegative(),
  minStd: z.number().positive(),
  warmupPoints: z.number().int().nonnegative(),
  earlyPoints: z.number().int().nonnegative(),
  earlyReturn: z.number().nonnegative(),
  likelihood: z.boolean(),
  rangeBlockSize: positiveInt,
  rangeBlocks: positiveInt,
  rangeTolerance: z.number().nonnegative(),
  artWindow: z.union([z.literal(2), z.literal(4), z.literal(8), z.literal(16)]),
  artDownsample: positiveInt,
  artTrendWindow: positiveInt,
  artLevels: positiveInt,
  artChomp: z.number().nonnegative(),
  artInitialRho: z.number().gt(0).lte(1),
  artMaxCategories: positiveInt.min(2),
  artRangeMargin: z.number().nonnegative(),
  artime: z.boolean(),
  artimeThreshold: z.number().gt(0).lt(1),
  alarmProbability: z.number().gt(0).lt(0.5),
  alarmScore: z.number().gt(0).lte(1),
  cooldownPoints: z.number().int().nonnegative(),
  suppressedScore: z.number().min(0).lte(1),
}).refine((c) => c.artTrendWindow >= 2 * c.artWindow, {
  message: "artTrendWindow must be at least 2 × artWindow",
  path: ["artTrendWindow"],
});

/**
 * Checks a configuration and returns it.
 *
 * @throws {RangeError} naming the first invalid field.
 */
export function validateConfig(config: EngineConfig): EngineConfig {
  const r = configSchema.safeParse(config);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new RangeError(
      `Cannot use engine config: ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`,
    );
  }
  return config;
}
