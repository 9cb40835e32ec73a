/**
 * `metric_score`: every (service, measure) series of the metrics stream is
 * scored by the statistical engine (`detector/core/stats/`, through the
 * `ScoreEngine` port); a score at or above the warning/critical band fires,
 * below `clear` resolves.
 *
 * @module
 */
import type { MetricEvent } from "@vigil/shared/schemas/event";
import type { Severity } from "@vigil/shared/schemas/alert";
import type { RulesConfig } from "../rules_config.ts";
import type { ScoreEngine } from "../score_engine.ts";
import {
  conditionFalse,
  conditionTrue,
  type EpisodeBook,
  loadEpisodes,
  saveEpisodes,
  sweepEpisodes,
} from "./episodes.ts";
import type { ScoreHandoff } from "./entity_score.ts";
import type { Rule } from "./types.ts";

/** State of `metric_score`: engine state per `service|measure`. */
export interface ScoreState<S> {
  series: Map<string, S>;
  episodes: EpisodeBook;
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
        state.snapshot?.get(key)?.freeze();
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
        const severity: Severity | null = score >= c.bands.critical
          ? "CRITICAL"
          : score >= c.bands.warning
          ? "WARNING"
          : null;
        if (severity === null) continue;
        const id = conditionTrue(state.episodes, {
          rule: "metric_score",
          type: "metrics",
          entity: service,
          subject,
          severity,
        }, {
          t: input.t,
          clearAt: input.t + cooldownMs,
          refId: input.ref.id,
          cooldownMs,
        }, sink.findings);
        if (id === null) continue;
        const e = r.explanation;
        sink.findings.push({
          kind: "firing",
          id,
          rule: "metric_score",
          type: "metrics",
          entity: service,
          severity,
          eventTime: input.t,
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
          evidence: [input.ref],
          traceId: input.traceId,
          ingestTs: input.ingestTs,
        });
      }
    },
    sweep(state, watermark, sink) {
      sweepEpisodes(state.episodes, watermark, cooldownMs, sink.findings);
    },
    save(s) {
      // Serialising every series at once would hold the event loop for tens of ms, and copying
      // them doubles their memory: each series is serialised when the checkpoint is written or,
      // if it is updated before, just before that update (copy on write).
      if (s.snapshot) { for (const later of s.snapshot.values()) later.freeze(); }
      const snapshot = new Map<string, SerializedLater<S>>();
      for (const [k, v] of s.series) snapshot.set(k, new SerializedLater(engine, v));
      s.snapshot = snapshot;
      return { series: [...snapshot], episodes: saveEpisodes(s.episodes) };
    },
    load(raw) {
      const r = raw as { series?: unknown; episodes?: unknown } | null;
      if (!r || typeof r !== "object" || !Array.isArray(r.series)) {
        throw new TypeError("Cannot load metric_score: no state");
      }
      const series = new Map<string, S>();
      for (const item of r.series) {
        if (!Array.isArray(item) || typeof item[0] !== "string" || typeof item[1] !== "string") {
          throw new TypeError("Cannot load metric_score: malformed series");
        }
        series.set(item[0], engine.restore(item[1]));
      }
      return { series, episodes: loadEpisodes(r.episodes) };
    },
  };
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
