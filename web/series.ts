/**
 * Recent values and scores of a series, read from the detector's cache
 * (`vigil:scores:<type>:<entity>:<measure>`, a sorted set scored by event
 * time in ms) for charts.
 *
 * Members are read by `parseScoreMember` (`shared/score_member.ts`); points
 * it cannot read are skipped and counted.
 *
 * @module
 */
import type { ScorePoint } from "@vigil/shared/schemas/web_api";
import { parseScoreMember } from "@vigil/shared/score_member";
import type { EventType } from "@vigil/shared/schemas/event";
import type { Keys } from "@vigil/shared/keys";
import type { Redis } from "@vigil/shared/redis";

/** The Redis commands series lookup needs. */
export type SeriesRedis = Pick<Redis, "smembers" | "exists" | "zrevrangebyscore">;

/** One series' points, oldest first. */
export interface Series {
  measure: string;
  points: ScorePoint[];
  /** Members that could not be parsed. */
  skipped: number;
}

/** Points of `zrange ... WITHSCORES` output (member, score, member, score…), oldest first. */
function toPoints(reply: string[]): { points: ScorePoint[]; skipped: number } {
  const points: ScorePoint[] = [];
  let skipped = 0;
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const p = parseScoreMember(reply[i]!, Number(reply[i + 1]));
    if (p) points.push(p);
    else skipped++;
  }
  points.sort((a, b) => a.ts - b.ts);
  return { points, skipped };
}

/** Most measures discovered for one entity without `measure`. */
const MAX_MEASURES = 20;

/**
 * Read the series of `type`/`entity`: one measure, or every measure of
 * `type` the detector wrote (`vigil:score-measures:<type>`) that the entity
 * has. Returns at most `limit` newest points per series in `[fromMs, toMs]`,
 * oldest first.
 */
export async function readSeries(
  redis: SeriesRedis,
  options: {
    keys: Keys;
    type: EventType;
    entity: string;
    measure?: string | undefined;
    fromMs?: number | undefined;
    toMs?: number | undefined;
    limit: number;
  },
): Promise<Series[]> {
  const { keys, type, entity } = options;
  const min = options.fromMs ?? "-inf";
  const max = options.toMs ?? "+inf";
  const read = async (measure: string) => {
    const reply = await redis.zrevrangebyscore(
      keys.scores(type, entity, measure),
      max,
      min,
      "WITHSCORES",
      "LIMIT",
      0,
      options.limit,
    );
    return { measure, ...toPoints(reply) };
  };
  if (options.measure !== undefined) return [await read(options.measure)];
  // The measures the detector wrote series of, for this type (a handful); each read together with
  // whether this entity has that series (a range can be empty for a series that exists). Before: a
  // SCAN of every key (up to 200 rounds per type): with 300,000 series one entity page cost Redis
  // about 3 s, unauthenticated.
  const named = (await redis.smembers(keys.scoreMeasures(type)))
    .filter((m) => m !== "" && !m.includes(":")).sort();
  const found = await Promise.all(named.map(async (m) => {
    const [exists, series] = await Promise.all([
      redis.exists(keys.scores(type, entity, m)),
      read(m),
    ]);
    return exists === 1 ? series : null;
  }));
  return found.filter((s) => s !== null).slice(0, MAX_MEASURES);
}
