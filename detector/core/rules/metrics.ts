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
import { conditionFalse, type EpisodeKey } from "./episodes.ts";
import { type CountState, forEachWindowEnd, windowStateParts } from "./count_rule.ts";
import { fire } from "./firing.ts";
import { entityScoreRule, ScoreHandoff } from "./entity_score.ts";
import { metricScoreRule } from "./metric_score.ts";
import { DEFAULT_STATE_LIMITS, type StateLimits } from "../state_limits.ts";
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

type SustainedConfig = RulesConfig["metrics"]["cpu_sustained"];

/** Is the condition true for readings [lo, hi)? */
function sustained(
  w: TimeWindow,
  S: number,
  lo: number,
  hi: number,
  c: SustainedConfig,
): boolean {
  if (hi - lo < c.min_readings) return false;
  if (timeAt(w, S, hi - 1) - timeAt(w, S, lo) < c.min_span) return false;
  for (let i = lo; i < hi; i++) if (valueAt(w, S, i) < c.cpu) return false;
  return true;
}

/**
 * `cpu_sustained`: every CPU reading of a service in `(τ − window, τ]` is at
 * least `cpu`, with at least `min_readings` readings spanning `min_span`.
 */
export function cpuSustainedRule(
  c: SustainedConfig,
  cooldownMs: number,
  maxEntities = Infinity,
): Rule<CountState, MetricEvent> {
  const W = c.window;
  function check(
    state: CountState,
    w: TimeWindow,
    S: number,
    service: string,
    end: number,
    input: RuleInput<MetricEvent>,
    sink: RuleSink,
  ): void {
    const [lo, hi] = liveRangeEndingAt(w, S, end, W, input.watermark);
    if (!sustained(w, S, lo, hi, c)) {
      if (hi > lo && end >= timeAt(w, S, hi - 1)) {
        conditionFalse(state.episodes, service, end, sink.findings, () => {
          // The reading that broke the run: the latest one under the threshold. None: the run
          // ended by time (too few readings left at `clearAt`), not by a reading.
          for (let k = hi - 1; k >= lo; k--) {
            const v = valueAt(w, S, k);
            if (v < c.cpu) return { value: v, details: { min_cpu: v } };
          }
          return undefined;
        });
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
    ...windowStateParts("cpu_sustained", W, true, maxEntities),
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
      const S = state.windows.stride;
      forEachWindowEnd(w, S, input.t, W, (end) => check(state, w, S, service, end, input, sink));
    },
  };
}

/** The enabled metric rules for `config`. */
export function metricRules(
  config: RulesConfig,
  engine: ScoreEngine<unknown> | null,
  limits: Readonly<StateLimits> = DEFAULT_STATE_LIMITS,
): Rule<unknown, MetricEvent>[] {
  const c = config.metrics;
  const rules: Rule<unknown, MetricEvent>[] = [];
  if (c.cpu_sustained.enabled) {
    rules.push(cpuSustainedRule(c.cpu_sustained, config.cooldown, limits.maxWindowEntities));
  }
  if (c.latency_high.enabled) {
    const limit = c.latency_high.latency_ms;
    rules.push(pointRule<MetricEvent>({
      name: "latency_high",
      type: "metrics",
      severity: c.latency_high.severity,
      cooldownMs: config.cooldown,
      clearOnFalse: true,
      judge: (e) => ({ entity: e.service, holds: e.latency_ms > limit }),
      reading: (e) => ({ value: e.latency_ms, details: { latency_ms: e.latency_ms } }),
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
      // A reading without cpu (the simulator's) says nothing of CPU: it clears only by latency.
      judge: (e) =>
        e.cpu === undefined && e.latency_ms > limit ? undefined : {
          entity: e.service,
          holds: e.cpu !== undefined && e.cpu >= cpu && e.latency_ms > limit,
        },
      reading: (e) => ({
        value: e.latency_ms,
        details: e.cpu === undefined
          ? { latency_ms: e.latency_ms }
          : { cpu: e.cpu, latency_ms: e.latency_ms },
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
    rules.push(metricScoreRule(c.metric_score, config.cooldown, engine, handoff, limits));
    if (handoff) rules.push(entityScoreRule(c.entity_score, config.cooldown, handoff));
  }
  return rules;
}
