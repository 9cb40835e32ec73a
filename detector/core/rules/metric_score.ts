/**
 * `metric_score`: every (service, measure) series of the metrics stream is
 * scored by the statistical engine (`detector/core/stats/`, through the
 * `ScoreEngine` port); a score at or above the warning/critical band fires,
 * below `clear` resolves.
 *
 * @module
 */
import type { MetricEvent } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../rules_config.ts";
import type { ScoreEngine } from "../score_engine.ts";
import type { EpisodeBook, EpisodeKey } from "./episodes.ts";
import { conditionFalse, loadEpisodes, saveEpisodes, sweepEpisodes } from "./episodes.ts";
import { bandSeverity, fire, loadKeyed } from "./firing.ts";
import type { ScoreHandoff } from "./entity_score.ts";
import type { Rule } from "./types.ts";
import { DEFAULT_STATE_LIMITS, type StateLimits } from "../state_limits.ts";

/** State of `metric_score`: engine state per `service|measure`. */
export interface ScoreState<S> {
  series: Map<string, S>;
  /** Event time of each series' last reading (an older reading is late). */
  seen: Map<string, number>;
  /**
   * Stream watermark at each series' last reading, least recently updated
   * first (the eviction order). Idleness is counted in stream time: a series
   * whose readings lag the stream (a backfill replayed beside live traffic)
   * is not idle while it reports.
   */
  touched: Map<string, number>;
  episodes: EpisodeBook;
  /** Series forgotten by the limits since the state was created or loaded. */
  evicted: number;
  /** Readings older than their series' last one, not scored (since created or loaded). */
  late: number;
  /** Loaded from a checkpoint without `seen`: every series counts as seen at the next sweep. */
  unknownSeen?: boolean;
  /**
   * The series of the last snapshot ({@link Rule.save}), serialised when the
   * checkpoint is written or, if sooner, just before their next update.
   */
  snapshot?: Map<string, SerializedLater<S>>;
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
 * `entity_score` through `handoff` when given. A series idle for
 * `limits.seriesIdleMs` of event time is forgotten at the next sweep, and
 * beyond `limits.maxSeries` the least recently updated ones are
 * (`state_limits.ts`). A reading older than its series' last is not scored
 * (counted in `late`): the engine learns each series in time order.
 */
export function metricScoreRule<S>(
  c: ScoreConfig,
  cooldownMs: number,
  engine: ScoreEngine<S>,
  handoff?: ScoreHandoff,
  limits: Readonly<Pick<StateLimits, "seriesIdleMs" | "maxSeries">> = DEFAULT_STATE_LIMITS,
): Rule<ScoreState<S>, MetricEvent> {
  return {
    name: "metric_score",
    type: "metrics",
    init: () => ({
      series: new Map(),
      seen: new Map(),
      touched: new Map(),
      episodes: new Map(),
      evicted: 0,
      late: 0,
    }),
    step(state, input, sink) {
      const service = input.event.service;
      handoff?.begin(input.ref.id, service);
      for (const measure of c.measures) {
        const value = measureOf(input.event, measure);
        if (value === undefined) continue;
        const key = `${service}|${measure}`;
        // The engine is causal: it learns a series in time order. A reading older than the
        // series' last (a producer that reordered, a backfill sent out of order) would be
        // scored as the next point, stamped with its old time: skipped and counted instead.
        if (input.t < (state.seen.get(key) ?? -Infinity)) {
          state.late++;
          continue;
        }
        let s = state.series.get(key);
        state.snapshot?.get(key)?.freeze();
        if (s === undefined) {
          s = engine.create();
          state.series.set(key, s);
        }
        const r = engine.update(s, input.t, value);
        state.series.set(key, r.state);
        state.seen.set(key, input.t);
        state.touched.delete(key); // to the back: most recently updated
        state.touched.set(key, input.watermark);
        const score = Number.isFinite(r.score) ? r.score : 0;
        const { expectedLow: low, expectedHigh: high, suppressed } = r.explanation;
        handoff?.scores.push({ measure, value, score, suppressed: suppressed === true });
        sink.scores.push(
          Number.isFinite(low) && Number.isFinite(high) && low <= high
            ? { type: "metrics", entity: service, measure, t: input.t, score, value, low, high }
            : { type: "metrics", entity: service, measure, t: input.t, score, value },
        );
        const subject = `${service}/${measure}`;
        if (score < c.bands.clear) {
          conditionFalse(state.episodes, subject, input.t, sink.findings, () => ({
            value,
            details: {
              value,
              score,
              expected_low: r.explanation.expectedLow,
              expected_high: r.explanation.expectedHigh,
            },
          }));
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
            // The engine's sentence already says the value, the range and the score.
            message: `${measure}: ${e.summary}`,
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
    sweep(state, watermark, sink) {
      evictSeries(state, watermark, limits);
      sweepEpisodes(state.episodes, watermark, cooldownMs, sink.findings);
    },
    stats: (state) => ({ entries: state.series.size, evicted: state.evicted, late: state.late }),
    save(s) {
      // Serialising every series at once would hold the event loop for tens of ms, and copying
      // them doubles their memory: each series is serialised when the checkpoint is written or,
      // if it is updated before, just before that update (copy on write).
      if (s.snapshot) { for (const later of s.snapshot.values()) later.freeze(); }
      const snapshot = new Map<string, SerializedLater<S>>();
      for (const [k, v] of s.series) snapshot.set(k, new SerializedLater(engine, v));
      s.snapshot = snapshot;
      return {
        series: [...snapshot],
        seen: [...s.seen],
        touched: [...s.touched],
        episodes: saveEpisodes(s.episodes),
      };
    },
    load(raw) {
      const r = (raw ?? {}) as Record<string, unknown>;
      const series = loadKeyed(
        r.series,
        { rule: "metric_score", what: "series" },
        (v): v is string => typeof v === "string",
        (v) => engine.restore(v),
      );
      /** `[series key, time][]` of known series (absent: an empty map); null allowed in `seen`. */
      const times = (items: unknown, what: "seen" | "touched") => {
        const out = new Map<string, number>();
        for (const item of Array.isArray(items) ? items : []) {
          if (
            !Array.isArray(item) || typeof item[0] !== "string" || !series.has(item[0]) ||
            (typeof item[1] !== "number" && (what === "touched" || item[1] !== null))
          ) throw new TypeError(`Cannot load metric_score: malformed ${what}`);
          out.set(item[0], item[1] ?? NaN); // null: NaN (not known yet) as JSON
        }
        return out;
      };
      const seen = times(r.seen, "seen");
      // Written before `seen` existed, or incomplete: every series counts as seen at the next sweep.
      const unknownSeen = seen.size !== series.size || [...seen.values()].some(Number.isNaN);
      if (unknownSeen) { for (const k of series.keys()) if (!seen.has(k)) seen.set(k, NaN); }
      const touched = times(r.touched, "touched");
      // Written before `touched`: the last event times, in their order (the eviction order then).
      if (touched.size !== series.size) {
        touched.clear();
        for (const [k, t] of seen) touched.set(k, t);
      }
      return {
        series,
        seen,
        touched,
        episodes: loadEpisodes(r.episodes),
        evicted: 0,
        late: 0,
        ...(unknownSeen ? { unknownSeen } : {}),
      };
    },
  };
}

/**
 * Forget the series idle for `seriesIdleMs` of stream time before
 * `watermark`, then the least recently updated beyond `maxSeries`.
 * O(forgotten): `touched` is in update order, and so in watermark order.
 */
export function evictSeries<S>(
  state: ScoreState<S>,
  watermark: number,
  limits: Readonly<Pick<StateLimits, "seriesIdleMs" | "maxSeries">>,
): void {
  const { seen, touched, series } = state;
  if (state.unknownSeen) {
    for (const [k, t] of seen) if (Number.isNaN(t)) seen.set(k, watermark);
    for (const [k, t] of touched) if (Number.isNaN(t)) touched.set(k, watermark);
    delete state.unknownSeen;
  }
  const cutoff = watermark - limits.seriesIdleMs;
  for (const [k, t] of touched) {
    if (t > cutoff && touched.size <= limits.maxSeries) break;
    touched.delete(k);
    seen.delete(k);
    series.delete(k);
    state.evicted++;
  }
}

/**
 * A series state as it was when the snapshot was taken, which becomes its
 * serialised text in `JSON.stringify` (via `toJSON`): serialised then, or
 * earlier by {@link SerializedLater.freeze} before the live state changes.
 * Serialised once: the text is let go as soon as it is handed out, so a
 * checkpoint being written never holds every series' text at once.
 */
export class SerializedLater<S> {
  #engine: ScoreEngine<S>;
  #state: S | undefined;
  #text: string | undefined;
  #done = false;
  constructor(engine: ScoreEngine<S>, state: S) {
    this.#engine = engine;
    this.#state = state;
  }
  /** Serialise now (the live state is about to change); no-op once done. */
  freeze(): void {
    if (this.#state === undefined) return;
    this.#text = this.#engine.serialize(this.#state);
    this.#state = undefined;
  }
  /** @throws {Error} when serialised before (a snapshot is serialised once) */
  toJSON(): string {
    if (this.#done) throw new Error("Cannot serialise a series snapshot twice");
    this.freeze();
    const text = this.#text!;
    this.#text = undefined;
    this.#done = true;
    return text;
  }
}
