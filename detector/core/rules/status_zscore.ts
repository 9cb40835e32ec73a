/**
 * `status_zscore`: transactions per status per minute of event time, scored
 * against the previous minutes:
 *
 *     z = (count − mean) / max(std, 1)
 *
 * over the previous `baseline_minutes` (60) minutes, once the stream has at
 * least `min_history_minutes` (30) minutes of history (minutes without a
 * transaction of that status count as 0). WARNING above `warning` (2.5),
 * CRITICAL above `critical` (4.0). While there is no baseline yet, any
 * count > 0 of a problem status (denied, failed, reversed, backend_reversed)
 * is CRITICAL. The current minute is scored as it fills, so a burst alerts
 * within the minute. Entity = the status.
 *
 * @module
 */
import type { TransactionEvent } from "@vigil/shared/schemas/event";
import type { Severity } from "@vigil/shared/schemas/alert";
import type { RulesConfig } from "../rules_config.ts";
import type { EpisodeBook } from "./episodes.ts";
import { loadEpisodes, resolveClearedBy, saveEpisodes, sweepEpisodes } from "./episodes.ts";
import { fire, loadKeyed } from "./firing.ts";
import type { Rule } from "./types.ts";

/** Config of the rule. */
export type ZScoreConfig = RulesConfig["transactions"]["status_zscore"];

const MINUTE = 60_000;

/** State: counts per status per minute, the first minute seen, open episodes. */
export interface ZScoreState {
  /** First minute (epoch minutes) with a transaction of any status; null before any. */
  first: number | null;
  /** Oldest minute whose counts are all held (older were dropped; absent: all since `first`). */
  keptFrom?: number | null;
  counts: Map<string, Map<number, number>>;
  episodes: EpisodeBook;
  /** Last completed minute whose z-scores were emitted for the scores cache. */
  emitted: number | null;
  late: number;
}

/** The assessment of one (status, minute, count). */
export interface ZAssessment {
  status: string;
  minute: string;
  count: number;
  severity: Severity | null;
  z: number | null;
  mean: number | null;
  std: number | null;
  history_minutes: number;
  baseline_minutes: number;
  reason: string;
}

/** Sums of `status`'s counts over the `n` minutes before `minute` (minutes without one count 0). */
function baselineSums(
  state: Pick<ZScoreState, "counts">,
  status: string,
  minute: number,
  n: number,
): { sum: number; sq: number } {
  const perMinute = state.counts.get(status);
  let sum = 0, sq = 0;
  for (let m = minute - n; m < minute; m++) {
    const v = perMinute?.get(m) ?? 0;
    sum += v;
    sq += v * v;
  }
  return { sum, sq };
}

/** Fields of the state a baseline is computed from. */
type BaselineState = Pick<ZScoreState, "first" | "counts" | "keptFrom">;

/**
 * Baseline minutes of `minute`: never before `keptFrom` (after a raise of `baseline_minutes`, the
 * dropped minutes would count as empty). Null, not scored at all (no false alarm), when fewer
 * remain than a fresh stream is ever scored on.
 */
function baselineLength(state: BaselineState, c: ZScoreConfig, minute: number, history: number) {
  const n = Math.min(c.baseline_minutes, history);
  if (state.keptFrom === null || state.keptFrom === undefined) return n;
  const held = minute - state.keptFrom;
  if (held >= n) return n;
  return held < Math.min(c.baseline_minutes, c.min_history_minutes) ? null : held;
}

/** z of `count` against `n` minutes summing to `sum` (squares `sq`), std floored at 1. */
function zOf(count: number, n: number, sum: number, sq: number) {
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sq / n - mean * mean));
  return { mean, std, z: (count - mean) / Math.max(std, 1) };
}

function severityOfZ(c: ZScoreConfig, z: number): Severity | null {
  return z > c.critical ? "CRITICAL" : z > c.warning ? "WARNING" : null;
}

/** Without a baseline, any count of a problem status is CRITICAL. */
function severityWithoutBaseline(c: ZScoreConfig, status: string, count: number): Severity | null {
  return count > 0 && c.problem_statuses.includes(status) ? "CRITICAL" : null;
}

/**
 * The oldest minute the rule still takes at stream watermark `watermarkMs`: an
 * older one is late (ignored), and the counts of its baseline are no longer all
 * held. The evaluate API refuses such a minute for the same reason.
 */
export function oldestTakenMinute(watermarkMs: number, c: Pick<ZScoreConfig, "baseline_minutes">) {
  return Math.floor(watermarkMs / MINUTE) - c.baseline_minutes;
}

/**
 * Score `count` transactions of `status` in `minute` (epoch minutes) against
 * the counts of the previous minutes in `state`. Pure: `state` is not changed.
 */
export function assessStatus(
  state: BaselineState,
  c: ZScoreConfig,
  at: { status: string; minute: number; count: number },
): ZAssessment {
  const { status, minute, count } = at;
  const first = state.first ?? minute;
  const history = Math.max(0, minute - first);
  const base = {
    status,
    minute: new Date(minute * MINUTE).toISOString(),
    count,
    history_minutes: history,
  };
  const problem = c.problem_statuses.includes(status);
  if (history < c.min_history_minutes) {
    const severity = severityWithoutBaseline(c, status, count);
    return {
      ...base,
      severity,
      z: null,
      mean: null,
      std: null,
      baseline_minutes: 0,
      reason: severity
        ? `no baseline yet (${history} of ${c.min_history_minutes} minutes of history) and ${count} ${status} transaction(s) this minute: a problem status`
        : `no baseline yet (${history} of ${c.min_history_minutes} minutes of history)${
          problem ? "" : `; ${status} is not a problem status`
        }`,
    };
  }
  const n = baselineLength(state, c, minute, history);
  if (n === null) {
    const from = new Date(state.keptFrom! * MINUTE).toISOString();
    const reason = `not scored: the counts before ${from} are no longer held`;
    return { ...base, severity: null, z: null, mean: null, std: null, baseline_minutes: 0, reason };
  }
  const { sum, sq } = baselineSums(state, status, minute, n);
  const { mean, std, z } = zOf(count, n, sum, sq);
  const severity = severityOfZ(c, z);
  const rounded = (x: number) => Math.round(x * 1000) / 1000;
  return {
    ...base,
    severity,
    z: rounded(z),
    mean: rounded(mean),
    std: rounded(std),
    baseline_minutes: n,
    reason: `z = (${count} - ${rounded(mean)}) / max(${rounded(std)}, 1) = ${
      rounded(z)
    } over ${n} minutes; ${
      severity === "CRITICAL"
        ? `above ${c.critical}: CRITICAL`
        : severity === "WARNING"
        ? `above ${c.warning}: WARNING`
        : `not above ${c.warning}: normal`
    }`,
  };
}

/** Title, message, score and details of an anomaly from assessment `a`. */
export function describeAssessment(a: ZAssessment, c: ZScoreConfig) {
  return {
    title: a.z === null
      ? `${a.status} transactions without a baseline`
      : `Unusual number of ${a.status} transactions`,
    message: `${a.count} ${a.status} transaction(s) in the minute of ${a.minute}: ${a.reason}`,
    score: a.z,
    details: {
      ...a,
      warning: c.warning,
      critical: c.critical,
      min_history_minutes: c.min_history_minutes,
    } as Record<string, unknown>,
  };
}

/** Baseline sums of one status for one minute (what {@link assessStatus} loops over). */
interface Baseline {
  minute: number;
  first: number;
  keptFrom: number | null;
  n: number | null;
  sum: number;
  sq: number;
}

/**
 * The severity {@link assessStatus} gives, without building its texts: the
 * rule needs only this on every transaction, and the full assessment only
 * when it is not null. The baseline sums of a (status, minute) are computed
 * once and kept until a count of an earlier minute of that status changes
 * ({@link BaselineCache.written}: late events) or old minutes are dropped
 * ({@link BaselineCache.clear}); the arithmetic is assessStatus's own
 * functions, so both always agree (`status_zscore_test.ts` checks it).
 */
export class BaselineCache {
  #byStatus = new Map<string, Baseline>();

  /** A count of `status` in `minute` changed. */
  written(status: string, minute: number): void {
    const b = this.#byStatus.get(status);
    if (b !== undefined && minute < b.minute) this.#byStatus.delete(status);
  }

  /** Minutes were dropped from the counts. */
  clear(): void {
    this.#byStatus.clear();
  }

  /** What `assessStatus(state, c, { status, minute, count }).severity` is. */
  severity(
    state: BaselineState,
    c: ZScoreConfig,
    status: string,
    minute: number,
    count: number,
  ): Severity | null {
    const first = state.first ?? minute;
    const history = Math.max(0, minute - first);
    if (history < c.min_history_minutes) return severityWithoutBaseline(c, status, count);
    let b = this.#byStatus.get(status);
    const keptFrom = state.keptFrom ?? null;
    if (b === undefined || b.minute !== minute || b.first !== first || b.keptFrom !== keptFrom) {
      const n = baselineLength(state, c, minute, history);
      const sums = n === null ? { sum: 0, sq: 0 } : baselineSums(state, status, minute, n);
      b = { minute, first, keptFrom, n, ...sums };
      this.#byStatus.set(status, b);
    }
    return b.n === null ? null : severityOfZ(c, zOf(count, b.n, b.sum, b.sq).z);
  }
}

/** Build the rule. */
export function statusZScoreRule(
  c: ZScoreConfig,
  cooldownMs: number,
  options: {
    /** Keep baseline sums between events (tests turn it off to compare). @default {true} */
    baselineCache?: boolean;
  } = {},
): Rule<ZScoreState, TransactionEvent> {
  const useCache = options.baselineCache ?? true;
  // Scores of completed minutes are emitted this far back at most.
  const emitBack = c.baseline_minutes + 2;
  // Counts are kept for the baseline of the oldest minute still taken (late events go back
  // `baseline_minutes`, and their minute's baseline as far again): a dropped minute would count
  // as empty in it.
  const keep = 2 * c.baseline_minutes + 2;
  // Baseline sums per state object (a loaded checkpoint is a new object, so a new cache).
  const caches = new WeakMap<ZScoreState, BaselineCache>();
  const cacheOf = (state: ZScoreState) => {
    let cache = caches.get(state);
    if (cache === undefined) caches.set(state, cache = new BaselineCache());
    return cache;
  };
  return {
    name: "status_zscore",
    type: "transactions",
    init: () => ({ first: null, counts: new Map(), episodes: new Map(), emitted: null, late: 0 }),
    step(state, input, sink) {
      const minute = Math.floor(input.t / MINUTE);
      if (minute < oldestTakenMinute(input.watermark, c)) {
        state.late++;
        return;
      }
      // History is the stream's, whichever shard owns the status.
      if (state.first === null || minute < state.first) state.first = minute;
      const status = input.event.status;
      let perMinute = state.counts.get(status);
      if (!perMinute) {
        perMinute = new Map();
        state.counts.set(status, perMinute);
      }
      const count = (perMinute.get(minute) ?? 0) + 1;
      perMinute.set(minute, count);
      let severity: Severity | null;
      if (useCache) {
        const cache = cacheOf(state);
        cache.written(status, minute);
        severity = cache.severity(state, c, status, minute, count);
      } else {
        severity = assessStatus(state, c, { status, minute, count }).severity;
      }
      if (severity === null) return;
      // True for this minute; cleared if the whole next minute is not.
      const key = {
        rule: "status_zscore",
        type: "transactions",
        entity: status,
        severity,
      } as const;
      const clearAt = (minute + 2) * MINUTE;
      // Cleared when the whole next minute ended, even if this transaction is at that instant.
      resolveClearedBy(state.episodes, status, severity, input.t, sink.findings);
      fire(state.episodes, key, { t: input.t, clearAt, cooldownMs, input, sink }, () => {
        const a = assessStatus(state, c, { status, minute, count });
        return describeAssessment(a, c);
      });
    },
    sweep(state, watermark, sink) {
      const current = Math.floor(watermark / MINUTE);
      // Emit z of completed minutes for the scores cache.
      if (state.first !== null) {
        // Every completed minute since the last emitted one, at most `emitBack` minutes back: a
        // batch spanning more than a few minutes (catch-up after lag) left gaps in the cache.
        const from = Math.max(state.emitted ?? current - 2, current - emitBack) + 1;
        for (let m = from; m < current; m++) {
          for (const [status, perMinute] of state.counts) {
            const count = perMinute.get(m) ?? 0;
            const a = assessStatus(state, c, { status, minute: m, count });
            if (a.z === null) continue;
            sink.scores.push({
              type: "transactions",
              entity: status,
              measure: "count_z",
              t: m * MINUTE,
              score: a.z,
              value: count,
            });
          }
          state.emitted = m;
        }
      }
      let dropped = false;
      for (const perMinute of state.counts.values()) {
        for (const m of perMinute.keys()) {
          if (m < current - keep) (perMinute.delete(m), dropped = true);
        }
      }
      if (dropped) {
        state.keptFrom = Math.max(state.keptFrom ?? -Infinity, current - keep);
        caches.get(state)?.clear();
      }
      sweepEpisodes(state.episodes, watermark, c.baseline_minutes * MINUTE, sink.findings);
    },
    save: (s) => ({
      first: s.first,
      keptFrom: s.keptFrom ?? null,
      counts: [...s.counts].map(([k, v]) => [k, [...v]]),
      episodes: saveEpisodes(s.episodes),
      emitted: s.emitted,
      late: s.late,
    }),
    load(raw) {
      const r = raw as Record<string, unknown> | null;
      if (!r || typeof r !== "object") throw new TypeError("Cannot load status_zscore: no state");
      const counts = loadKeyed(
        r.counts,
        { rule: "status_zscore", what: "counts" },
        Array.isArray,
        (perMinute: unknown[]) =>
          new Map(perMinute.map((p) => {
            if (!Array.isArray(p)) throw new TypeError("Cannot load status_zscore: bad minute");
            return [Number(p[0]), Number(p[1])] as [number, number];
          })),
      );
      const first = typeof r.first === "number" ? r.first : null;
      // Saved before keptFrom: older minutes than the oldest held may have been dropped.
      let keptFrom = typeof r.keptFrom === "number" ? r.keptFrom : null;
      if (!("keptFrom" in r) && first !== null) {
        let held = Infinity;
        for (const v of counts.values()) for (const m of v.keys()) held = Math.min(held, m);
        if (Number.isFinite(held) && held > first) keptFrom = held;
      }
      return {
        first,
        keptFrom,
        counts,
        episodes: loadEpisodes(r.episodes),
        emitted: typeof r.emitted === "number" ? r.emitted : null,
        late: typeof r.late === "number" ? r.late : 0,
      };
    },
  };
}
