/**
 * Offsets a Kafka consumer (the bridge, the archive) never read. Per
 * partition the consumer knows the last offset it accounted for; a batch
 * that starts further on leaves a hole. The bridge first reads a hole again
 * (the consumer may have been positioned past offsets nobody appended, when
 * a rebalance raced a commit); a hole that is still there is judged against
 * the partition's log start: the part below it was deleted by Kafka
 * (retention: the consumer fell behind) and is recorded once (the bridge: a
 * `gap` dead letter; the archive: a gap object), counted in
 * `vigil_<service>_skipped_messages_total`, logged at error level and shown
 * by the `kafka_gaps` health check; the part at or above it holds no message
 * (transaction markers, aborted or compacted records).
 *
 * @module
 */
import type { Admin, Kafka } from "kafkajs";
import type { HealthDetail } from "./http/ops_app.ts";
import type { Keys } from "./keys.ts";
import { withTimeout } from "./lifecycle.ts";
import type { Logger } from "./log.ts";
import type { Registry } from "./metrics.ts";

/** Offsets of a partition Kafka deleted before they were read. */
export interface Gap {
  from: string;
  to: string;
  count: number;
}

/** Times a hole is read again before it is judged against the log start. */
export const HOLE_REREADS = 2;

/** Per Kafka partition: the bridge's last offset accounted for, cached, read from Redis once. */
export function createProgress(
  redis: { hget(key: string, field: string): Promise<string | null> },
  keys: Keys,
) {
  const known = new Map<string, bigint | null>();
  return {
    key: keys.bridgeProgress(),
    /** The last offset accounted for, or null when the bridge never saw the partition. */
    async last(topic: string, partition: number): Promise<bigint | null> {
      const field = `${topic}:${partition}`;
      if (!known.has(field)) {
        const v = await redis.hget(keys.bridgeProgress(), field);
        known.set(field, v === null ? null : BigInt(v));
      }
      return known.get(field)!;
    },
    /** Record (in the cache; the caller writes it to Redis with the batch). */
    set(topic: string, partition: number, offset: bigint): void {
      known.set(`${topic}:${partition}`, offset);
    },
    /** Forget the cache (after a rebalance another bridge may have moved on). */
    clear(): void {
      known.clear();
    },
  };
}

/** The gaps seen, their metric, log lines and health check; and the log start reader. */
export function createGapTracker(options: {
  kafka: Pick<Kafka, "admin">;
  log: Logger;
  metrics: Registry;
  /** `bridge` or `archive`: names the metric and the messages. */
  service: string;
  gapWarnMs: number;
  now: () => number;
}) {
  const { kafka, log, now, service } = options;
  const lostTotal = options.metrics.counter(
    `vigil_${service}_skipped_messages_total`,
    `Messages deleted by Kafka (retention) before the ${service} read them, recorded as gaps`,
    ["topic"],
  );
  const gaps: (Gap & { topic: string; partition: number; at: number })[] = [];
  let gapCount = 0;
  let lostCount = 0;
  let admin: Promise<Admin> | undefined;
  /** Holes being read again, per partition. */
  const holes = new Map<string, { expected: bigint; coverFrom: string; tries: number }>();

  return {
    /**
     * Whether to read the hole before `coverFrom` again (true: seek back and
     * retry), or to judge it now (false, after {@link HOLE_REREADS} tries).
     */
    reread(partitionKey: string, expected: bigint, coverFrom: string): boolean {
      const seen = holes.get(partitionKey);
      const tries = seen?.expected === expected && seen.coverFrom === coverFrom ? seen.tries : 0;
      if (tries >= HOLE_REREADS) return false;
      holes.set(partitionKey, { expected, coverFrom, tries: tries + 1 });
      return true;
    },
    /** The batch of this partition was appended: its hole, if any, is settled. */
    settled(partitionKey: string): void {
      holes.delete(partitionKey);
    },
    /**
     * The offsets from `next` (the first one not accounted for) up to the batch starting at
     * `first` that Kafka deleted: those below the partition's log start (read from Kafka);
     * undefined when none is (the hole holds transaction markers or compacted records only).
     */
    async lost(topic: string, partition: number, next: bigint, first: bigint) {
      admin ??= (async () => {
        const a = kafka.admin();
        await a.connect();
        return a;
      })().catch((error) => {
        admin = undefined;
        throw error;
      });
      const offsets = await (await admin).fetchTopicOffsets(topic);
      const p = offsets.find((o) => o.partition === partition);
      if (!p) {
        throw new Error(`Cannot read the log start of ${topic}/${partition}: no such partition`);
      }
      const start = BigInt(p.low);
      const to = (first < start ? first : start) - 1n;
      if (to < next) return undefined;
      return { from: next.toString(), to: to.toString(), count: Number(to - next + 1n) };
    },
    record(topic: string, partition: number, gap: Gap): void {
      gapCount++;
      lostCount += gap.count;
      lostTotal.inc({ topic }, gap.count);
      gaps.push({ topic, partition, ...gap, at: now() });
      if (gaps.length > 20) gaps.shift();
      log.error(`messages lost: Kafka deleted them before the ${service} read them`, {
        topic,
        partition,
        from: gap.from,
        to: gap.to,
        count: gap.count,
      });
    },
    health(): boolean | HealthDetail {
      const last = gaps[gaps.length - 1];
      if (!last || now() - last.at > options.gapWarnMs) return true;
      return {
        status: "warn",
        message: `messages were deleted by Kafka before the ${service} read them (see the ` +
          `recorded gaps): the ${service} falls behind the topics' retention`,
        gaps: gapCount,
        skipped_messages: lostCount,
        recent: gaps.slice(-5).map((g) => ({
          topic: g.topic,
          partition: g.partition,
          from: g.from,
          to: g.to,
          count: g.count,
          at: new Date(g.at).toISOString(),
        })),
      };
    },
    async close(): Promise<void> {
      const a = admin;
      admin = undefined;
      if (!a) return;
      try {
        await withTimeout((await a).disconnect(), 2000, "admin disconnect");
      } catch (error) {
        log.warn("cannot disconnect the admin client", { error });
      }
    },
  };
}
