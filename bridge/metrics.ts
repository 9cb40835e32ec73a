/**
 * The bridge's metrics (`vigil_bridge_*`; its Kafka gap counter is
 * shared/kafka_gaps.ts's), with the stream lengths read at each scrape.
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import { pipelineBySlot } from "@vigil/shared/redis_cluster";
import type { Keys } from "@vigil/shared/keys";
import { declareMetrics, type Gauge, type Registry } from "@vigil/shared/metrics";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";

/** The event streams whose lengths `vigil_bridge_stream_length` reports. */
export interface BridgeStreams {
  redis: Pick<Redis, "pipeline">;
  keys: Keys;
  /** Stream partitions per event type. */
  partitions: number;
}

/** Register the bridge's metrics on `registry`. */
export function createBridgeMetrics(registry: Registry, source: BridgeStreams) {
  const { redis, keys, partitions } = source;
  /**
   * XLEN of every partition of every type, summed per type. A type with a
   * partition Redis answered with an error (down longer than ioredis retries)
   * keeps its last value: counted as empty, its length would drop.
   */
  const collectStreamLengths = async (g: Gauge) => {
    // One pipeline (one per slot on a cluster) for every partition of every type.
    const streams = EVENT_TYPES.flatMap((type) =>
      Array.from({ length: partitions }, (_, p) => ({ type, key: keys.events(type, p) }))
    );
    const replies = await pipelineBySlot<ReturnType<Redis["pipeline"]>>(
      redis,
      streams.map(({ key }) => ({ key, add: (q) => q.xlen(key) })),
    );
    const totals = new Map<string, number>(EVENT_TYPES.map((t) => [t, 0]));
    streams.forEach(({ type }, i) => {
      const [error, n] = replies[i] ?? [];
      if (error) totals.delete(type);
      else if (totals.has(type)) totals.set(type, totals.get(type)! + Number(n ?? 0));
    });
    for (const [type, n] of totals) g.set({ type }, n);
  };
  return declareMetrics(registry, {
    messagesTotal: {
      kind: "counter",
      name: "vigil_bridge_messages_total",
      help: "Valid events appended to their stream",
      labels: ["type"],
    },
    deadTotal: {
      kind: "counter",
      name: "vigil_bridge_dead_letters_total",
      help:
        "Dead letters written to the dead-letter stream: messages by the kind of their reason, and gap records (reason_kind gap, one per gap, whatever its count)",
      labels: ["topic", "reason_kind"],
    },
    skippedTotal: {
      kind: "counter",
      name: "vigil_bridge_duplicates_skipped_total",
      help: "Redelivered messages skipped by the offset dedup",
    },
    logResets: {
      kind: "counter",
      name: "vigil_bridge_log_resets_total",
      help:
        "Batches whose Kafka partition log ended below what the bridge had appended from it (topic created again, or another cluster): appended from the new log instead of skipped",
      labels: ["topic"],
    },
    redisErrors: {
      kind: "counter",
      name: "vigil_bridge_redis_errors_total",
      help: "Failed batch appends (retried)",
    },
    streamFull: {
      kind: "counter",
      name: "vigil_bridge_stream_full_total",
      help:
        "Appends refused because the detector has not processed enough of the stream (BRIDGE_STREAM_MAXLEN): retried, nothing trimmed unread",
    },
    batchSeconds: {
      kind: "histogram",
      name: "vigil_bridge_batch_seconds",
      help: "Time to classify, append and commit one partition batch",
    },
    lag: {
      kind: "gauge",
      name: "vigil_bridge_consumer_lag",
      help: "High watermark minus the next offset to process",
      labels: ["topic", "partition"],
    },
    streamLength: {
      kind: "gauge",
      name: "vigil_bridge_stream_length",
      help: "Entries in each event stream (XLEN)",
      labels: ["type"],
      collect: collectStreamLengths,
    },
  });
}
