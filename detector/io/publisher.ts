/**
 * Publishing: every new anomaly (and every resolution) becomes an alert,
 * appended to the durable alerts stream and published on the live channel
 * by one Lua script per alert (`shared/lua/publish_alert.lua`), all alerts
 * and score updates of a batch in one pipeline. The script records a marker
 * per alert, so publishing the same alert again (recovery after a crash
 * between XADD and `published_at`) appends nothing: exactly once in the stream.
 *
 * Recent scores: per (type, entity, measure) a sorted set scored by event
 * time, member `<ts>:<score>:<value>`, trimmed to the last `scoreKeep`,
 * without scores older than `scoreTtlMs` before the series' newest, and
 * expiring after `scoreTtlMs` without a new score. Read one with
 * `redis-cli ZRANGE vigil:scores:metrics:<service>:cpu 0 -1 WITHSCORES`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Keys } from "@vigil/shared/keys";
import type { Alert } from "@vigil/shared/schemas/alert";
import type { EventType } from "@vigil/shared/schemas/event";
import type { AnomalyRow } from "./store.ts";
import type { ScorePoint } from "../core/rules/types.ts";

/** Options of {@link createPublisher}. */
export interface PublisherOptions {
  redis: Redis;
  keys: Keys;
  /** @default {3600000} */
  scoreTtlMs?: number;
  /** @default {500} */
  scoreKeep?: number;
  /** @default {100000} */
  alertsMaxLen?: number;
  /** How long a published marker is kept. @default {7 days} */
  markerRetentionMs?: number;
  now?: () => number;
}

/** One alert to publish, with its dedup marker. */
export interface OutgoingAlert {
  marker: string;
  alert: Alert;
}

/** The publisher. */
export interface Publisher {
  /** Publish alerts and cache scores in one pipeline; returns the markers appended now. */
  publish(alerts: readonly OutgoingAlert[], scores: readonly ScorePoint[]): Promise<string[]>;
}

const SCRIPT_URL = new URL("../../shared/lua/publish_alert.lua", import.meta.url);

function isoOrNull(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

/** The alert of a stored row (`status` firing or resolved). */
export function rowToAlert(
  row: AnomalyRow,
  status: "firing" | "resolved",
  stages: Record<string, number>,
): OutgoingAlert {
  const rowStages = (row.stages && typeof row.stages === "object" ? row.stages : {}) as Record<
    string,
    number
  >;
  return {
    marker: status === "firing" ? row.id : `${row.id}:resolved`,
    alert: {
      id: row.id,
      status,
      detected_at: row.detected_at.toISOString(),
      event_time: row.event_time.toISOString(),
      type: row.type as EventType,
      rule: row.rule,
      severity: row.severity as Alert["severity"],
      entity: row.entity,
      title: row.title,
      message: row.message,
      score: row.score,
      details: (row.details ?? {}) as Record<string, unknown>,
      evidence: (Array.isArray(row.evidence) ? row.evidence : []) as Alert["evidence"],
      resolved_at: isoOrNull(row.resolved_at),
      trace_id: row.trace_id,
      stages: { ...rowStages, ...stages },
    },
  };
}

/** Create the publisher; loads the Lua script (needs read access to shared/lua). */
export async function createPublisher(options: PublisherOptions): Promise<Publisher> {
  const { redis, keys } = options;
  const ttl = options.scoreTtlMs ?? 3_600_000;
  const keep = options.scoreKeep ?? 500;
  const maxLen = options.alertsMaxLen ?? 100_000;
  const retention = options.markerRetentionMs ?? 7 * 86_400_000;
  const now = options.now ?? Date.now;
  const lua = await Deno.readTextFile(SCRIPT_URL);
  let sha = await redis.script("LOAD", lua) as string;
  const markers = keys.key("detector", "published");

  async function attempt(
    alerts: readonly OutgoingAlert[],
    scores: readonly ScorePoint[],
  ): Promise<string[]> {
    const p = redis.pipeline();
    const t = now();
    for (const a of alerts) {
      const json = JSON.stringify({ ...a.alert, stages: { ...a.alert.stages, published: t } });
      p.evalsha(
        sha,
        2,
        keys.alerts(),
        markers,
        a.marker,
        json,
        keys.alertsChannel(),
        t,
        retention,
        maxLen,
      );
    }
    // One ZADD per series with all its points (a batch holds many points per series).
    const series = new Map<string, { points: (string | number)[]; newest: number }>();
    for (const s of scores) {
      const key = keys.scores(s.type, s.entity, s.measure);
      let entry = series.get(key);
      if (entry === undefined) series.set(key, entry = { points: [], newest: -Infinity });
      entry.points.push(s.t, `${s.t}:${s.score}:${s.value}`);
      entry.newest = Math.max(entry.newest, s.t);
    }
    for (const [key, { points }] of series) p.zadd(key, ...points);
    for (const [key, { newest: t }] of series) {
      p.zremrangebyrank(key, 0, -(keep + 1));
      p.zremrangebyscore(key, "-inf", `(${t - ttl}`);
      p.pexpire(key, ttl);
    }
    const results = (await p.exec()) ?? [];
    const appended: string[] = [];
    for (let i = 0; i < results.length; i++) {
      const [error, value] = results[i]!;
      if (error) throw error;
      if (i < alerts.length && value) appended.push(alerts[i]!.marker);
    }
    return appended;
  }

  return {
    async publish(alerts, scores) {
      if (alerts.length === 0 && scores.length === 0) return [];
      try {
        return await attempt(alerts, scores);
      } catch (error) {
        // Redis restarted and lost the script cache: load it again once.
        if (!String((error as Error)?.message).includes("NOSCRIPT")) throw error;
        sha = await redis.script("LOAD", lua) as string;
        return await attempt(alerts, scores);
      }
    },
  };
}
