/**
 * Writes a service retries until its store takes them (the bridge's appends
 * to Redis, the archive's objects), as a health check. A store can answer its
 * PING or HEAD and refuse every write: Redis out of memory or a read-only
 * replica, S3 denying PutObject, a full disk. The retry loops then go on for
 * ever while nothing is stored, and `/health` must say so.
 *
 * Per key (a Kafka partition, an object): a streak of failures starts at the
 * first refused write and ends at the next stored one. The check fails while
 * a streak has lasted `stuckAfterMs`; one whose last failure is older than
 * that is no longer retried here (the partition moved to another member) and
 * is forgotten, so a blip never fails the check and nothing stays red.
 *
 * @module
 */
import { errorMessage } from "./log.ts";
import type { HealthDetail } from "./http/ops_app.ts";

/** Options of {@link createWriteHealth}. */
export interface WriteHealthOptions {
  /** What a write is, for the detail ("append", "object write"). */
  what: string;
  /** Failing this long = stuck. @default {60000} */
  stuckAfterMs?: number | undefined;
  now?: () => number;
}

/** Failure streaks of retried writes, by key. */
export interface WriteHealth {
  /** A write of `key` was refused (it will be retried). */
  failed(key: string, error: unknown): void;
  /** A write of `key` was stored: its streak ends. */
  stored(key: string): void;
  /** `true`, or `fail` naming the keys whose writes were refused for `stuckAfterMs`. */
  health(): true | HealthDetail;
  /** A store's health check: {@link health}'s `fail`, else what `storeCheck` (PING, HEAD) says. */
  check(storeCheck: () => Promise<boolean | HealthDetail>): Promise<boolean | HealthDetail>;
}

/** Create the tracker. */
export function createWriteHealth(options: WriteHealthOptions): WriteHealth {
  const stuckAfterMs = options.stuckAfterMs ?? 60_000;
  const now = options.now ?? Date.now;
  const streaks = new Map<string, { since: number; at: number; error: string }>();

  function health(): true | HealthDetail {
    const t = now();
    const stuck: { key: string; since: number; error: string }[] = [];
    for (const [key, s] of streaks) {
      if (t - s.at > stuckAfterMs) streaks.delete(key);
      else if (t - s.since >= stuckAfterMs) stuck.push({ key, ...s });
    }
    if (stuck.length === 0) return true;
    stuck.sort((a, b) => a.since - b.since);
    const first = stuck[0]!;
    const more = stuck.length > 1 ? ` and ${stuck.length - 1} more` : "";
    return {
      status: "fail",
      message: `every ${options.what} of ${first.key}${more} refused for ${
        Math.round((t - first.since) / 1000)
      } s`,
      stuck: stuck.slice(0, 20).map((s) => s.key),
      error: first.error.slice(0, 500),
    };
  }

  return {
    failed(key, error) {
      const t = now();
      const s = streaks.get(key);
      if (s && t - s.at <= stuckAfterMs) Object.assign(s, { at: t, error: errorMessage(error) });
      else streaks.set(key, { since: t, at: t, error: errorMessage(error) });
    },
    stored(key) {
      streaks.delete(key);
    },
    health,
    async check(storeCheck) {
      const stuck = health();
      return stuck === true ? await storeCheck() : stuck;
    },
  };
}
