/**
 * The sliding-window count rule behind `error_spike`, `user_spike` and
 * `user_frequency`: at least `threshold` matching events for one entity
 * within `window` of event time, i.e. in `(τ − window, τ]`.
 *
 * Event time, not arrival order: a late event is inserted in place, and the
 * condition is checked for every window that contains it, i.e. the windows
 * ending at each of the entity's events in `[t, t + window)` (only the one
 * ending at `t` for an in-order event). Events at or before
 * `watermark − window` are too late and are ignored (counted in `late`); the
 * entity's window is pruned to that same horizon before it is evaluated, so
 * the outcome does not depend on how entries were batched.
 *
 * @module
 */
import type { EventType } from "@vigil/shared/schemas/event";
import type { Severity } from "@vigil/shared/schemas/alert";
import { type EpisodeBook, loadEpisodes, saveEpisodes, sweepEpisodes } from "./episodes.ts";
import { fire } from "./firing.ts";
import { type Rule, type RuleInput, type RuleSink } from "./types.ts";
import {
  createWindowSet,
  evictOldest,
  insertEvent,
  liveRangeEndingAt,
  loadWindows,
  pruneWindows,
  refsOf,
  saveWindows,
  sizeOf,
  timeAt,
  type TimeWindow,
  upperBoundT,
  type WindowSet,
} from "./window.ts";

/** State of a count rule. */
export interface CountState {
  windows: WindowSet;
  episodes: EpisodeBook;
  /** Events ignored because they were older than the window. */
  late: number;
  /** Entities forgotten because of `maxEntities` (since created or loaded). */
  evicted: number;
}

/** Options of {@link countRule}. */
export interface CountRuleOptions<E> {
  name: string;
  type: EventType;
  /** The entity of a matching event, or undefined when the event does not match. */
  select(event: E): string | undefined;
  /** The rules-file entry: fires at `threshold` matching events within `window` ms. */
  entry: { threshold: number; window: number; severity: Severity };
  cooldownMs: number;
  /** Entities kept in the windows; beyond, those with the oldest event are forgotten. @default {Infinity} */
  maxEntities?: number;
  /** Title of a firing, e.g. `20 ERROR logs from checkout in 3 min`. */
  title(entity: string, count: number): string;
}

function minutes(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/**
 * Call `fn` with the end of every window of length `span` that contains an
 * event at `t`: each distinct event time in `[t, t + span)`, ascending.
 */
export function forEachWindowEnd(
  w: TimeWindow,
  stride: number,
  t: number,
  span: number,
  fn: (end: number) => void,
): void {
  const n = w.length / stride;
  for (let j = upperBoundT(w, stride, t) - 1; j < n && w[j * stride]! < t + span; j++) {
    // The last of equal times covers them.
    if (j + 1 < n && w[(j + 1) * stride] === w[j * stride]) continue;
    fn(w[j * stride]!);
  }
}

/** Build a sliding-window count rule. */
export function countRule<E>(options: CountRuleOptions<E>): Rule<CountState, E> {
  const { threshold, window: W } = options.entry;

  function check(
    state: CountState,
    w: TimeWindow,
    entity: string,
    end: number,
    input: RuleInput<E>,
    sink: RuleSink,
  ): void {
    const S = state.windows.stride;
    const [lo, hi] = liveRangeEndingAt(w, S, end, W, input.watermark);
    const n = hi - lo;
    if (n < threshold) return;
    // Without new events the count drops below the threshold when the
    // (n - threshold + 1)-th oldest event of this window leaves it.
    const clearAt = timeAt(w, S, lo + n - threshold) + W;
    const key = {
      rule: options.name,
      type: options.type,
      entity,
      severity: options.entry.severity,
    };
    const at = { t: end, clearAt, cooldownMs: options.cooldownMs, input, sink };
    fire(state.episodes, key, at, () => ({
      title: options.title(entity, n),
      message: `${n} events for ${entity} within ${minutes(W)} (threshold ${threshold}), window ${
        new Date(end - W).toISOString()
      } .. ${new Date(end).toISOString()}`,
      score: n,
      details: {
        count: n,
        threshold,
        window_ms: W,
        window_start: new Date(end - W).toISOString(),
        window_end: new Date(end).toISOString(),
        first_event: new Date(timeAt(w, S, lo)).toISOString(),
      },
      evidence: refsOf(w, S, Math.max(lo, hi - 50), hi),
    }));
  }

  return {
    name: options.name,
    type: options.type,
    ...windowStateParts(options.name, W, false, options.maxEntities),
    step(state, input, sink) {
      const entity = options.select(input.event);
      if (entity === undefined) return;
      if (input.t <= input.watermark - W) {
        state.late++;
        return;
      }
      const w = insertEvent(state.windows, entity, input.t, input.ref);
      const S = state.windows.stride;
      if (timeAt(w, S, sizeOf(w, S) - 1) === input.t) check(state, w, entity, input.t, input, sink);
      else forEachWindowEnd(w, S, input.t, W, (end) => check(state, w, entity, end, input, sink));
    },
  };
}

/**
 * `init`, `sweep`, `save` and `load` of a rule over per-entity windows of
 * `windowMs` of event time (`values`: each event carries a value).
 */
export function windowStateParts(
  name: string,
  windowMs: number,
  values: boolean,
  maxEntities = Infinity,
): Pick<Rule<CountState, unknown>, "init" | "sweep" | "stats" | "save" | "load"> {
  return {
    init: () => ({ windows: createWindowSet(values), episodes: new Map(), late: 0, evicted: 0 }),
    sweep(state, watermark, sink) {
      pruneWindows(state.windows, watermark - windowMs);
      state.evicted += evictOldest(state.windows, maxEntities);
      sweepEpisodes(state.episodes, watermark, windowMs, sink.findings);
    },
    stats: (state) => ({
      entries: state.windows.byEntity.size,
      evicted: state.evicted,
      late: state.late,
    }),
    save: (state) => ({
      windows: saveWindows(state.windows),
      episodes: saveEpisodes(state.episodes),
      late: state.late,
    }),
    load(raw) {
      const r = raw as { windows?: unknown; episodes?: unknown; late?: unknown } | null;
      if (!r || typeof r !== "object") throw new TypeError(`Cannot load ${name}: no state`);
      return {
        windows: loadWindows(r.windows),
        episodes: loadEpisodes(r.episodes),
        late: typeof r.late === "number" ? r.late : 0,
        evicted: 0,
      };
    },
  };
}
