/**
 * Rules over the metrics stream: `cpu_sustained`, `latency_high`,
 * `cpu_and_latency`, `metric_score` (the statistical engine, per measure)
 * and `entity_score` (its measures combined per service, `entity_score.ts`).
 *
 * @module
 */
import type { MetricEvent } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../rules_config.ts";
import type { ScoreEngine } from "../score_engine.ts";
import {
  conditionFalse,
  type EpisodeBook,
  type EpisodeKey,
  loadEpisodes,
  saveEpisodes,
} from "./episodes.ts";
import { type CountState, forEachWindowEnd, windowStateParts } from "./count_rule.ts";
import { bandSeverity, episodeStateParts, fire, loadKeyed } from "./firing.ts";
import { entityScoreRule, ScoreHandoff } from "./entity_score.ts";
import { pointRule } from "./point_rule.ts";
import type { Rule, RuleInput, RuleSink } from "./types.ts";
import {
  insertEvent,
  liveRangeEndingAt,
  refsOf,
  timeAt,
  type TimeWindow,
  valueAt,
} from "./window.ts";

/** State of `cpu_sustained`. */
export type SustainedState = CountState;

type SustainedConfig = RulesConfig["metrics"]["cpu_sustained"];

/** Is the condition true for readings [lo, hi)? */
function sustained(w: TimeWindow, lo: number, hi: number, c: SustainedConfig): boolean {
  if (hi - lo < c.min_readings) return false;
  if (timeAt(w, S, hi - 1) - timeAt(w, S, lo) < c.min_span) return false;
  for (let i = lo; i < hi; i++) if (valueAt(w, S, i) < c.cpu) return false;
  return true;
}

/** Stride of the cpu windows (with values). */
const S = 6;

/**
 * `cpu_sustained`: every CPU reading of a service in `(τ − window, τ]` is at
 * least `cpu`, with at least `min_readings` readings spanning `min_span`.
 */
export function cpuSustainedRule(
  c: SustainedConfig,
  cooldownMs: number,
): Rule<SustainedState, MetricEvent> {
  const W = c.window;
  function check(
    state: SustainedState,
    w: TimeWindow,
    service: string,
    end: number,
    input: RuleInput<MetricEvent>,
    sink: RuleSink,
  ): void {
    const [lo, hi] = liveRangeEndingAt(w, S, end, W, input.watermark);
    if (!sustained(w, lo, hi, c)) {
      if (hi > lo && end >= timeAt(w, S, hi - 1)) {
        conditionFalse(state.episodes, service, end, sink.findings);
      }
      return;
    }
    // Without new readings, the oldest readings leave the window one by one
    // until too few remain or they no longer span min_span.
    let clearAt = end + W;
    // (Their values all passed above: only the count and the span can fail.)
    for (let k = lo; k < hi; k++) {
      if (
        hi - (k + 1) < c.min_readings || timeAt(w, S, hi - 1) - timeAt(w, S, k + 1) < c.min_span
      ) {
        clearAt = timeAt(w, S, k) + W;
        break;
      }
    }
    const key: EpisodeKey = {
      rule: "cpu_sustained",
      type: "metrics",
      entity: service,
      severity: c.severity,
    };
    fire(state.episodes, key, { t: end, clearAt, cooldownMs, input, sink }, () => {
      const values: number[] = [];
      for (let i = lo; i < hi; i++) values.push(valueAt(w, S, i));
      const min = Math.min(...values);
      return {
        title: `Sustained high CPU on ${service}`,
        message: `All ${hi - lo} CPU readings of ${service} over ${
          Math.round((timeAt(w, S, hi - 1) - timeAt(w, S, lo)) / 1000)
        } s are >= ${c.cpu}% (lowest ${min}%)`,
        score: min,
        details: {
          readings: values,
          count: hi - lo,
          min_cpu: min,
          threshold: c.cpu,
          window_ms: W,
          min_readings: c.min_readings,
          min_span_ms: c.min_span,
          span_ms: timeAt(w, S, hi - 1) - timeAt(w, S, lo),
          window_start: new Date(end - W).toISOString(),
          window_end: new Date(end).toISOString(),
        },
        evidence: refsOf(w, S, Math.max(lo, hi - 50), hi),
      };
    });
  }
  return {
    name: "cpu_sustained",
    type: "metrics",
    ...windowStateParts("cpu_sustained", W, true),
    step(state, input, sink) {
      const service = input.event.service;
      const cpu = input.event.cpu;
      // A reading without cpu (the simulator's) says nothing about CPU.
      if (cpu === undefined) return;
      if (input.t <= input.watermark - W) {
        state.late++;
        return;
      }
      const w = insertEvent(state.windows, service, input.t, input.ref, cpu);
      forEachWindowEnd(w, S, input.t, W, (end) => check(state, w, service, end, input, sink));
    },
  };
}

/** State of `metric_score`: engine state per `service|measure`. */
export interface ScoreState<S> {
  series: Map<string, S>;
  episodes: EpisodeBook;
}

type ScoreConfig = RulesConfig["metrics"]["metric_score"];

/** A numeric field of a reading, or undefined. */
function measureOf(event: MetricEvent, measure: string): number | undefined {
  const v = (event as Record<string, unknown>)[measure];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * `metric_score`: every (service, measure) series is scored by the engine;
 * a score at or above the warning/critical band fires, below `clear` resolves.
 * Every score is also emitted for the recent-scores cache, and handed to
 * `entity_score` through `handoff` when given.
 */
export function metricScoreRule<S>(
  c: ScoreConfig,
  cooldownMs: number,
  engine: ScoreEngine<S>,
  handoff?: ScoreHandoff,
): Rule<ScoreState<S>, MetricEvent> {
  return {
    name: "metric_score",
    type: "metrics",
    init: () => ({ series: new Map(), episodes: new Map() }),
    step(state, input, sink) {
      const service = input.event.service;
      handoff?.begin(input.ref.id, service);
      for (const measure of c.measures) {
        const value = measureOf(input.event, measure);
        if (value === undefined) continue;
        const key = `${service}|${measure}`;
        let s = state.series.get(key);
        if (s === undefined) {
          s = engine.create();
          state.series.set(key, s);
        }
        const r = engine.update(s, input.t, value);
        state.series.set(key, r.state);
        const score = Number.isFinite(r.score) ? r.score : 0;
        handoff?.scores.push({ measure, value, score });
        const { expectedLow: low, expectedHigh: high } = r.explanation;
        sink.scores.push(
          Number.isFinite(low) && Number.isFinite(high) && low <= high
            ? { type: "metrics", entity: service, measure, t: input.t, score, value, low, high }
            : { type: "metrics", entity: service, measure, t: input.t, score, value },
        );
        const subject = `${service}/${measure}`;
        if (score < c.bands.clear) {
          conditionFalse(state.episodes, subject, input.t, sink.findings);
          continue;
        }
        const severity = bandSeverity(score, c.bands);
        if (severity === null) continue;
        const episode: EpisodeKey = {
          rule: "metric_score",
          type: "metrics",
          entity: service,
          subject,
          severity,
        };
        const at = { t: input.t, clearAt: input.t + cooldownMs, cooldownMs, input, sink };
        fire(state.episodes, episode, at, () => {
          const e = r.explanation;
          return {
            title: `Unusual ${measure} on ${service}`,
            message: `${measure} = ${value} scored ${score.toFixed(4)} (expected ${
              e.expectedLow.toFixed(2)
            } .. ${e.expectedHigh.toFixed(2)})${e.summary ? `: ${e.summary}` : ""}`,
            score,
            details: {
              measure,
              value,
              score,
              expected_low: e.expectedLow,
              expected_high: e.expectedHigh,
              summary: e.summary,
              bands: c.bands,
            },
          };
        });
      }
    },
    sweep: episodeStateParts("metric_score", cooldownMs).sweep,
    save: (s) => ({
      // A copy now (the snapshot is taken between batches), the text when the checkpoint is
      // written: serialising every series at once would hold the event loop for tens of ms.
      series: [...s.series].map(([k, v]) => [k, new SerializedLater(engine, structuredClone(v))]),
      episodes: saveEpisodes(s.episodes),
    }),
    load(raw) {
      const r = (raw ?? {}) as { series?: unknown; episodes?: unknown };
      const series = loadKeyed(
        r.series,
        { rule: "metric_score", what: "series" },
        (v): v is string => typeof v === "string",
        (v) => engine.restore(v),
      );
      return { series, episodes: loadEpisodes(r.episodes) };
    },
  };
}

/** A series state that becomes its serialised text in `JSON.stringify` (via `toJSON`). */
class SerializedLater<S> {
  constructor(readonly engine: ScoreEngine<S>, readonly state: S) {}
  toJSON(): string {
    return this.engine.serialize(this.state);
  }
}

/** The enabled metric rules for `config`. */
export function metricRules(
  config: RulesConfig,
  engine: ScoreEngine<unknown> | null,
): Rule<unknown, MetricEvent>[] {
  const c = config.metrics;
  const rules: Rule<unknown, MetricEvent>[] = [];
  if (c.cpu_sustained.enabled) rules.push(cpuSustainedRule(c.cpu_sustained, config.cooldown));
  if (c.latency_high.enabled) {
    const limit = c.latency_high.latency_ms;
    rules.push(pointRule<MetricEvent>({
      name: "latency_high",
      type: "metrics",
      severity: c.latency_high.severity,
      cooldownMs: config.cooldown,
      clearOnFalse: true,
      judge: (e) => ({ entity: e.service, holds: e.latency_ms > limit }),
      describe: (e) => ({
        title: `High latency on ${e.service}`,
        message: `latency ${e.latency_ms} ms > ${limit} ms`,
        score: e.latency_ms,
        details: { latency_ms: e.latency_ms, threshold_ms: limit },
      }),
    }));
  }
  if (c.cpu_and_latency.enabled) {
    const { cpu, latency_ms: limit } = c.cpu_and_latency;
    rules.push(pointRule<MetricEvent>({
      name: "cpu_and_latency",
      type: "metrics",
      severity: c.cpu_and_latency.severity,
      cooldownMs: config.cooldown,
      clearOnFalse: true,
      judge: (e) => ({
        entity: e.service,
        holds: e.cpu !== undefined && e.cpu >= cpu && e.latency_ms > limit,
      }),
      describe: (e) => ({
        title: `High CPU and latency on ${e.service}`,
        message: `cpu ${e.cpu}% >= ${cpu}% and latency ${e.latency_ms} ms > ${limit} ms`,
        score: e.latency_ms,
        details: {
          cpu: e.cpu,
          latency_ms: e.latency_ms,
          cpu_threshold: cpu,
          latency_threshold_ms: limit,
        },
      }),
    }));
  }
  if (c.metric_score.enabled && engine) {
    const handoff = c.entity_score.enabled ? new ScoreHandoff() : undefined;
    rules.push(metricScoreRule(c.metric_score, config.cooldown, engine, handoff));
    if (handoff) rules.push(entityScoreRule(c.entity_score, config.cooldown, handoff));
  }
  return rules;
}
