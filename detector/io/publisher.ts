/**
 * Publishing: every new anomaly (and every resolution) becomes an alert,
 * appended to the durable alerts stream and published on the live channel
 * by one Lua script per alert (`shared/lua/publish_alert.lua`), all alerts
 * and score updates of a batch in one pipeline. The script records a marker
 * per alert, so publishing the same alert again (recovery after a crash
 * between XADD and `published_at`) appends nothing: exactly once in the stream.
 *
 * Recent scores: per (type, entity, measure) a sorted set scored by event
 * time, member `<ts>:<score>:<value>` (statistical scores add the expected
 * range: `<ts>:<score>:<value>:<low>:<high>`), trimmed to the last `scoreKeep`,
 * without scores older than `scoreTtlMs` before the series' newest, and
 * expiring after `scoreTtlMs` without a new score. Read one with
 * `redis-cli ZRANGE vigil:scores:metrics:<service>:cpu 0 -1 WITHSCORES`.
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import { isCluster } from "@vigil/shared/redis_cluster";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import { scoreMember } from "@vigil/shared/score_member";
import type { Alert } from "@vigil/shared/schemas/alert";
import type { EventType } from "@vigil/shared/schemas/event";
import type { AnomalyRow } from "./store.ts";
import type { ScorePoint } from "../core/rules/types.ts";
import PUBLISH_LUA from "../../shared/lua/publish_alert.lua" with { type: "text" };
import GROUP_LEFT_LUA from "../../shared/lua/group_left.lua" with { type: "text" };
import { addScriptCall, execScripted, redisScript } from "@vigil/shared/redis_script";

/** The alert script: keys are the alerts stream and the published markers. */
const PUBLISH = redisScript(`${GROUP_LEFT_LUA}\n${PUBLISH_LUA}`, 2);

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

/** The alert of a stored row (`status` firing or resolved). */
export function rowToAlert(
  row: AnomalyRow,
  status: "firing" | "resolved",
  stages: Record<string, number>,
): OutgoingAlert {
  // Spread as an object (null or a non-object adds nothing).
  const rowStages = typeof row.stages === "object" ? row.stages as Record<string, number> : {};
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
      resolved_at: row.resolved_at?.toISOString() ?? null,
      ...(status === "resolved" ? resolvedReading(row) : {}),
      trace_id: row.trace_id,
      stages: { ...rowStages, ...stages },
    },
  };
}

/** What a resolved row resolved at (migration 075), when known. */
function resolvedReading(row: AnomalyRow): Pick<Alert, "resolved_value" | "resolved_details"> {
  const value = row.resolved_value;
  if (typeof value !== "number" || !Number.isFinite(value)) return {};
  const d = row.resolved_details;
  return d !== null && typeof d === "object" && !Array.isArray(d)
    ? { resolved_value: value, resolved_details: d as Record<string, unknown> }
    : { resolved_value: value };
}

/**
 * Create the publisher. The alert script goes by its SHA, its source again
 * only to a node that answers NOSCRIPT (`shared/redis_script.ts`). On a
 * Redis Cluster the alerts go in one pipeline (one slot, `{alerts}`) and
 * each score series in its own.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { redis, keys } = options;
  const perSlot = isCluster(redis);
  const ttl = options.scoreTtlMs ?? 3_600_000;
  const keep = options.scoreKeep ?? 500;
  const maxLen = options.alertsMaxLen ?? 100_000;
  /** How long a published marker is kept. */
  const retention = 7 * 86_400_000;
  const now = options.now ?? Date.now;
  const markers = keys.publishedMarkers();
  type Pipe = ReturnType<Redis["pipeline"]>;
  /** Run what `fill` adds (the alert script by SHA, or with its source after NOSCRIPT); throw on an error. */
  const exec = async (fill: (p: Pipe, withSource: boolean) => void) => {
    const results = await execScripted(() => redis.pipeline(), fill);
    for (const [error] of results) if (error) throw error;
    return results;
  };

  return {
    async publish(alerts, scores) {
      if (alerts.length === 0 && scores.length === 0) return [];
      const t = now();
      const alertCalls = alerts.map((a) => {
        const json = JSON.stringify({ ...a.alert, stages: { ...a.alert.stages, published: t } });
        return [
          keys.alerts(),
          markers,
          a.marker,
          json,
          keys.alertsChannel(),
          t,
          retention,
          maxLen,
          GROUPS.notifier, // its unprocessed alerts are not trimmed
        ];
      });
      const addAlerts = (p: Pipe, withSource: boolean) => {
        for (const args of alertCalls) addScriptCall(p, PUBLISH, args, withSource);
      };
      // One ZADD per series with all its points (a batch holds many points per series).
      const series = new Map<string, { points: (string | number)[]; newest: number }>();
      // The measures written, by type: the web lists an entity's series from these sets (a SCAN
      // of every key per page view cost Redis seconds with many series).
      const measures = new Map<EventType, Set<string>>();
      for (const s of scores) {
        const named = measures.get(s.type) ?? measures.set(s.type, new Set()).get(s.type)!;
        named.add(s.measure);
        const key = keys.scores(s.type, s.entity, s.measure);
        let entry = series.get(key);
        if (entry === undefined) series.set(key, entry = { points: [], newest: -Infinity });
        entry.points.push(s.t, scoreMember(s));
        entry.newest = Math.max(entry.newest, s.t);
      }
      const scoreCommands = (
        q: Pipe,
        key: string,
        e: { points: (string | number)[]; newest: number },
      ) => {
        q.zadd(key, ...e.points);
        q.zremrangebyrank(key, 0, -(keep + 1));
        q.zremrangebyscore(key, "-inf", `(${e.newest - ttl}`);
        q.pexpire(key, ttl);
      };
      let results;
      if (!perSlot) {
        results = await exec((p, withSource) => {
          addAlerts(p, withSource);
          for (const [key, e] of series) scoreCommands(p, key, e);
          for (const [type, named] of measures) p.sadd(keys.scoreMeasures(type), ...named);
        });
      } else {
        [results] = await Promise.all([
          alerts.length > 0 ? exec(addAlerts) : Promise.resolve([]),
          ...[...series].map(([key, e]) => exec((q) => scoreCommands(q, key, e))),
          ...[...measures].map(([type, named]) =>
            exec((q) => q.sadd(keys.scoreMeasures(type), ...named))
          ),
        ]);
      }
      const appended: string[] = [];
      for (let i = 0; i < alerts.length; i++) if (results[i]?.[1]) appended.push(alerts[i]!.marker);
      return appended;
    },
  };
}
