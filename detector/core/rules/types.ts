/**
 * Types shared by the rules: what a rule sees (one event with its event time
 * and stream coordinates) and what it emits (firings, resolutions, scores).
 *
 * A rule is a reducer over one stream's events in stream order:
 * `step(state, input, sink)` and `sweep(state, watermark, sink)`. It owns its
 * state object (updated in place for speed), never does I/O and never reads
 * the clock: time is the events' time (`input.t`) and the stream watermark.
 *
 * @module
 */
import type { EventType } from "@vigil/shared/schemas/event";
import type { Severity } from "@vigil/shared/schemas/alert";
import type { StateStats } from "../state_limits.ts";

/** Where an event came from: its stream entry id and Kafka coordinates (topic = type). */
export interface EventRef {
  id: string;
  partition: number;
  offset: string;
}

/** One event as the rules see it. */
export interface RuleInput<E> {
  event: E;
  /** Event time, ms since epoch, capped at {@link watermark} (a clock far ahead does not count). */
  t: number;
  ref: EventRef;
  /** When the bridge appended the entry (ms). */
  ingestTs: number;
  /** 32-hex trace id from the entry's traceparent, when present. */
  traceId: string | null;
  /** Stream watermark: the highest (skew-capped) event time seen so far, this event included. */
  watermark: number;
}

/** A new anomaly. `id` is deterministic, so a replay yields the same row. */
export interface Firing {
  kind: "firing";
  id: string;
  rule: string;
  type: EventType;
  entity: string;
  severity: Severity;
  /** Event time at which the condition held (ms). */
  eventTime: number;
  title: string;
  message: string;
  score: number | null;
  details: Record<string, unknown>;
  evidence: EventRef[];
  traceId: string | null;
  ingestTs: number | null;
}

/** A condition that cleared: resolves the open anomalies `ids`. */
export interface Resolution {
  kind: "resolved";
  rule: string;
  type: EventType;
  entity: string;
  severity: Severity;
  ids: string[];
  /** Event time at which it cleared (ms). */
  at: number;
  /** The observed value that cleared it (the reading back under the threshold), when the rule knows it. */
  value?: number;
  /** That reading in the firing details' keys (e.g. `{ latency_ms: 320 }`), for display. */
  details?: Record<string, unknown>;
}

/** The reading that cleared a condition: see {@link Resolution.value}. */
export interface Reading {
  value: number;
  details?: Record<string, unknown>;
}

/** Anything a rule reports. */
export type Finding = Firing | Resolution;

/** One score of a series, for the recent-scores cache. */
export interface ScorePoint {
  type: EventType;
  entity: string;
  measure: string;
  t: number;
  score: number;
  value: number;
  /** The expected range at this point (statistical scores), when the engine has one. */
  low?: number;
  high?: number;
}

/** Where rules write their output, and what they may ask. */
export interface RuleSink {
  findings: Finding[];
  scores: ScorePoint[];
}

/** A rule over the events of one stream. */
export interface Rule<S, E> {
  readonly name: string;
  readonly type: EventType;
  /** Fresh state. */
  init(): S;
  /** Apply one event (in stream order). */
  step(state: S, input: RuleInput<E>, sink: RuleSink): void;
  /** Let event time pass: resolve cleared conditions, drop expired window state. */
  sweep(state: S, watermark: number, sink: RuleSink): void;
  /** JSON-able snapshot of `state`. */
  save(state: S): unknown;
  /** State from a snapshot made by {@link Rule.save}. @throws {TypeError} when malformed */
  load(raw: unknown): S;
  /** How many entities the state holds and how many the limits made it forget (per-entity rules). */
  stats?(state: S): StateStats;
}

/** A sink collecting everything. */
export function collectSink(): RuleSink {
  return { findings: [], scores: [] };
}
