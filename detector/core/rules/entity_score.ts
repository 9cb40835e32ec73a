/**
 * `entity_score`: one score per service across its measures. Each reading's
 * measures are scored by the statistical engine (the `metric_score` rule);
 * this rule turns those scores back into the tail probabilities they stand
 * for ({@link scoreToProbability}, the inverse of the engine's calibration)
 * and combines them with a published method:
 *
 * - **Fisher** (1925): X = −2 Σ ln pᵢ is χ² with 2k degrees of freedom when
 *   the k measures are normal and independent; the combined p is its upper
 *   tail. Moderate evidence on several measures adds up.
 * - **Tippett** (1931) minimum p with Šidák's correction: 1 − (1 − min pᵢ)^k.
 *   Only the strongest measure counts, corrected for having looked at k.
 *
 * The combined p is mapped to a score on the engine's scale (so the same
 * severity bands apply), and the alert names the measures that drove it:
 * the fewest, strongest first, that make up 75 % of the combined statistic
 * (−Σ ln pᵢ). Cooldown and resolution are those of `metric_score`, per
 * service.
 *
 * @module
 */
import type { MetricEvent } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../rules_config.ts";
import { probabilityToScore, scoreToProbability } from "../score_engine.ts";
import { conditionFalse } from "./episodes.ts";
import { bandSeverity, type EpisodeState, episodeStateParts, fire } from "./firing.ts";
import type { Rule } from "./types.ts";

type EntityConfig = RulesConfig["metrics"]["entity_score"];

/** One measure of a reading as scored by the engine. */
export interface MeasureScore {
  measure: string;
  value: number;
  score: number;
  /** The engine capped an alarm-level score: this measure's alarm was reported shortly before. */
  suppressed?: boolean;
}

/**
 * What `metric_score` scored for the entry it just processed: the rules of a
 * stream run in order on each entry, so `entity_score` (after it) reads the
 * same entry's scores here. Transient: nothing in it outlives the entry.
 */
export class ScoreHandoff {
  /** Stream entry id the scores belong to ("" before any). */
  entryId = "";
  service = "";
  readonly scores: MeasureScore[] = [];

  /** Starts the scores of a new entry. */
  begin(entryId: string, service: string): void {
    this.entryId = entryId;
    this.service = service;
    this.scores.length = 0;
  }
}

/**
 * Fisher's combined probability: P(χ²₂ₖ ≥ −2 Σ ln pᵢ), in closed form for
 * even degrees of freedom: e^{−x} Σ_{j<k} x^j / j! with x = −Σ ln pᵢ.
 * Probabilities are clamped to (0, 1].
 */
export function fisherCombine(ps: readonly number[]): number {
  const k = ps.length;
  if (k === 0) return 1;
  let x = 0;
  for (const p of ps) x -= Math.log(Math.min(1, Math.max(p, Number.MIN_VALUE)));
  // Each term e^{−x} x^j / j! (a Poisson probability, ≤ 1) from its logarithm: x^j / j! alone
  // overflowed to Infinity from ~166 measures at the alarm level, and p came out 1.
  const lnX = Math.log(x);
  let lnTerm = -x;
  let p = Math.exp(lnTerm);
  for (let j = 1; j < k; j++) {
    lnTerm += lnX - Math.log(j);
    p += Math.exp(lnTerm);
  }
  return Math.min(1, p);
}

/** Tippett's minimum p with Šidák's correction: 1 − (1 − min pᵢ)^k. */
export function tippettCombine(ps: readonly number[]): number {
  const k = ps.length;
  if (k === 0) return 1;
  const min = Math.min(1, ...ps.map((p) => Math.max(p, 0)));
  return min >= 1 ? 1 : -Math.expm1(k * Math.log1p(-min));
}

/** A measure's part in a combined score. */
export interface MeasureEvidence extends MeasureScore {
  /** Tail probability the engine's score stands for. */
  p: number;
  /** Share of the combined statistic −Σ ln pᵢ (0..1). */
  share: number;
}

/** A combined score and its parts. */
export interface EntityAssessment {
  score: number;
  p: number;
  /** Strongest first. */
  measures: MeasureEvidence[];
  /** The fewest measures, strongest first, that make up 75 % of the statistic. */
  drivers: string[];
}

/** Combines one reading's measure scores (pure). */
export function assessEntity(
  scores: readonly MeasureScore[],
  method: EntityConfig["method"],
): EntityAssessment {
  const ps = scores.map((m) => scoreToProbability(m.score));
  const p = method === "fisher" ? fisherCombine(ps) : tippettCombine(ps);
  const logs = ps.map((x) => -Math.log(x));
  const total = logs.reduce((a, b) => a + b, 0);
  const measures = scores.map((m, i) => ({
    ...m,
    p: ps[i]!,
    share: total > 0 ? logs[i]! / total : 0,
  })).sort((a, b) => b.share - a.share || a.measure.localeCompare(b.measure));
  const drivers: string[] = [];
  let acc = 0;
  for (const m of measures) {
    drivers.push(m.measure);
    acc += m.share;
    if (acc >= 0.75) break;
  }
  return { score: probabilityToScore(p), p, measures, drivers };
}

/**
 * Whether a combined score reaches the alarm level only through measures the
 * engine capped within their cooldown (`suppressed`: their alarm was reported
 * moments ago): without them the rest is below the warning band. Such a score
 * raises nothing new, nor does it resolve anything, as a capped score does
 * for `metric_score`; otherwise several capped scores of one incident would
 * combine into a fresh alarm on every reading past the cooldown.
 */
function alreadyReported(scores: readonly MeasureScore[], c: EntityConfig): boolean {
  if (!scores.some((m) => m.suppressed)) return false;
  const fresh = scores.map((m) => m.suppressed ? { ...m, score: 0 } : m);
  return bandSeverity(assessEntity(fresh, c.method).score, c.bands) === null;
}

function fmtValue(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
}

/**
 * `entity_score`: per reading of a service, the combined score of its
 * measures (as scored by `metric_score`, handed over in `handoff`); fires
 * at the warning/critical band, resolves below `clear`.
 */
export function entityScoreRule(
  c: EntityConfig,
  cooldownMs: number,
  handoff: ScoreHandoff,
): Rule<EpisodeState, MetricEvent> {
  const wanted = c.measures ? new Set(c.measures) : null;
  return {
    name: "entity_score",
    type: "metrics",
    ...episodeStateParts("entity_score", cooldownMs),
    step(state, input, sink) {
      const service = input.event.service;
      if (handoff.entryId !== input.ref.id) return;
      const scores = wanted ? handoff.scores.filter((m) => wanted.has(m.measure)) : handoff.scores;
      if (scores.length < c.min_measures) return;
      const a = assessEntity(scores, c.method);
      if (a.score < c.bands.clear) {
        conditionFalse(state.episodes, service, input.t, sink.findings);
        return;
      }
      const severity = bandSeverity(a.score, c.bands);
      if (severity === null || alreadyReported(scores, c)) return;
      const key = { rule: "entity_score", type: "metrics", entity: service, severity } as const;
      const at = { t: input.t, clearAt: input.t + cooldownMs, cooldownMs, input, sink };
      fire(state.episodes, key, at, () => {
        const drivers = a.measures.filter((m) => a.drivers.includes(m.measure));
        const methodName = c.method === "fisher" ? "Fisher" : "Tippett (Šidák)";
        return {
          title: `Unusual ${service} across ${a.measures.length} measures, driven by ${
            a.drivers.join(" and ")
          }`,
          message: `${service} scored ${a.score.toFixed(4)} combining ${
            a.measures.map((m) => m.measure).join(", ")
          } (${methodName}, p = ${a.p.toExponential(2)}); driven by ${
            drivers.map((m) =>
              `${m.measure} = ${fmtValue(m.value)} (score ${m.score.toFixed(2)}, ${
                Math.round(m.share * 100)
              } %)`
            ).join(", ")
          }`,
          score: a.score,
          details: {
            method: c.method,
            score: a.score,
            p: a.p,
            drivers: a.drivers,
            measures: a.measures.map((m) => ({
              measure: m.measure,
              value: m.value,
              score: m.score,
              p: m.p,
              share: m.share,
            })),
            bands: c.bands,
          },
        };
      });
    },
  };
}
