/**
 * Fusion of the detectors' evidence on one calibrated scale: every tail
 * probability _q_ maps to a score by `calibratedScore` (_q_ =
 * `alarmProbability` scores `alarmScore`), ARTime's confidence maps so that
 * `artimeThreshold` scores `alarmScore`, a new extreme scores 1, and the
 * strongest evidence wins. After an alarm, further alarm-level scores within
 * `cooldownPoints` points are capped at `suppressedScore`.
 *
 * @module
 */

import type { EngineConfig } from "./config.ts";
import type { Reason } from "./explanation.ts";
import { calibratedScore } from "./likelihood.ts";
import type { SeriesState } from "./series_state.ts";

/** Each detector's evidence about one point. */
export interface Evidence {
  /** Past the warm-up (`n > warmupPoints`). */
  warm: boolean;
  /** Past the early phase (`n > earlyPoints`). */
  mature: boolean;
  /** Raw deviation score of the robust z-score ({@link rawScore}). */
  raw: number;
  /** Anomaly likelihood's tail probability of the recent raw scores (1: none yet). */
  q: number;
  /** Early phase: tail probability of the point's deviation (1: none). */
  deviationQ: number;
  /** Early phase: tail probability that the previous value was an isolated outlier (1: none). */
  outlierQ: number;
  /** The previous value. */
  prev: number;
  /** ARTime's confidence of a novel shape (0: none). */
  artConf: number;
  /** The point is a new extreme. */
  newExtreme: boolean;
}

/** The fused score of a point. */
export interface Fused {
  /** Score in [0, 1]. */
  score: number;
  /** The detector with the strongest evidence. */
  reason: Reason;
  /** Early outlier: the previous value; new shape: ARTime's confidence; NaN otherwise. */
  detail: number;
  /** An alarm-level score was capped (cooldown). */
  suppressed: boolean;
}

/** Raw deviation score of a robust z-score: 0 up to `deviationFree`, then rising to 1. */
export function rawScore(z: number, c: EngineConfig): number {
  const az = Math.abs(z);
  return az > c.deviationFree ? 1 - Math.exp(-(az - c.deviationFree) / c.deviationScale) : 0;
}

/** Score of an ARTime confidence: `artimeThreshold` maps to `alarmScore`. */
export function artimeScore(conf: number, c: EngineConfig): number {
  const t = c.artimeThreshold;
  const a = c.alarmScore;
  const s = conf >= t ? a + (1 - a) * (conf - t) / (1 - t) : a * conf / t;
  return s < 0 ? 0 : s > 1 ? 1 : s;
}

/**
 * Fuses the evidence into a score, into `out`, and applies the alarm
 * cooldown (mutates `s.sinceAlarm`).
 */
export function fuse(s: SeriesState, e: Evidence, c: EngineConfig, out: Fused): Fused {
  let score = 0;
  let reason: Reason = !e.warm ? "warming-up" : "normal";
  let detail = NaN;
  if (e.mature) {
    score = c.likelihood ? (e.q < 1 ? calibratedScore(e.q, c.alarmProbability) : 0) : e.raw;
    if (score >= c.alarmScore || e.raw > 0) reason = "deviation";
  }
  if (e.deviationQ < 1) {
    // Graded but never an alarm: a young series' value is confirmed an outlier
    // only when the next one returns (below).
    score = Math.min(calibratedScore(e.deviationQ, c.alarmProbability), c.suppressedScore);
  }
  if (e.outlierQ < 1) {
    const v = calibratedScore(e.outlierQ, c.alarmProbability);
    if (v > score) {
      score = v;
      if (v >= c.alarmScore) {
        reason = "early-outlier";
        detail = e.prev;
      }
    }
  }
  if (e.artConf > 0) {
    const a = artimeScore(e.artConf, c);
    if (a > score) {
      score = a;
      if (a >= c.alarmScore) {
        reason = "new-shape";
        detail = e.artConf;
      }
    }
  }
  if (e.newExtreme) {
    score = 1;
    reason = "new-extreme";
  }
  if (!e.warm) score = 0;
  let suppressed = false;
  if (score >= c.alarmScore) {
    if (s.sinceAlarm < c.cooldownPoints) {
      score = Math.min(score, c.suppressedScore);
      suppressed = true;
    } else {
      s.sinceAlarm = 0;
    }
  }
  if (s.sinceAlarm < c.cooldownPoints) s.sinceAlarm++;
  out.score = score;
  out.reason = reason;
  out.detail = detail;
  out.suppressed = suppressed;
  return out;
}
