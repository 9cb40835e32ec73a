/**
 * Bounds on the detector's per-entity state, so its memory does not grow
 * with the number of entities it has ever seen.
 *
 * - **Count windows** (`error_spike`, `user_spike`, `user_frequency`,
 *   `cpu_sustained`) forget an entity's events once they leave the window
 *   (event time), so an idle entity costs nothing after one window. Under a
 *   flood of distinct entities, at most `maxWindowEntities` per rule are
 *   kept: beyond, the entities whose oldest event is oldest are forgotten
 *   first (counted as evicted).
 * - **Statistical series** (`metric_score`, ~20 KB each) are kept while
 *   they report: a series without a reading for `seriesIdleMs` of event
 *   time (against the stream watermark) is forgotten, and at most
 *   `maxSeries` are kept, the least recently updated forgotten first. A
 *   forgotten series that reports again starts learning anew (scores after
 *   its warm-up, docs/statistics.md).
 *
 * The limits apply per rule and per stream partition an instance consumes.
 * Episodes (cooldown and resolution bookkeeping) are forgotten one window
 * (or cooldown) after their cooldown ends; `status_zscore` keeps one
 * baseline per status (a fixed set).
 *
 * @module
 */

/** Bounds on per-entity state. */
export interface StateLimits {
  /** A statistical series without a reading for this long (event time) is forgotten. @default {86400000} */
  seriesIdleMs: number;
  /** Statistical series kept per partition; the least recently updated go first. @default {4000} */
  maxSeries: number;
  /** Entities kept in one count rule's windows per partition; the oldest go first. @default {150000} */
  maxWindowEntities: number;
}

/** The defaults (`DETECTOR_SERIES_IDLE_TTL`, `DETECTOR_MAX_SERIES`, `DETECTOR_MAX_WINDOW_ENTITIES`). */
export const DEFAULT_STATE_LIMITS: Readonly<StateLimits> = Object.freeze({
  seriesIdleMs: 86_400_000,
  maxSeries: 4000,
  maxWindowEntities: 150_000,
});

/** What one rule holds and has forgotten. */
export interface StateStats {
  /** Entities (or series) in the rule's state now. */
  entries: number;
  /** Entities (or series) forgotten by the limits since the state was created or loaded. */
  evicted: number;
  /**
   * Events the rule ignored as late: behind its window (count rules, kept in the checkpoint) or
   * older than their series' last reading (`metric_score`, since created or loaded).
   */
  late?: number;
}
