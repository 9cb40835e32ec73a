/**
 * The archive's metrics (`vigil_archive_*`; its Kafka gap counter is
 * shared/kafka_gaps.ts's).
 *
 * @module
 */
import { declareMetrics, type Gauge, type Registry } from "@vigil/shared/metrics";

/** Register the archive's metrics on `registry`. */
export function createArchiveMetrics(registry: Registry) {
  return declareMetrics(registry, {
    objectsTotal: {
      kind: "counter",
      name: "vigil_archive_objects_total",
      help: "Objects stored",
      labels: ["topic"],
    },
    messagesTotal: {
      kind: "counter",
      name: "vigil_archive_messages_total",
      help: "Messages stored in objects",
      labels: ["topic"],
    },
    storeErrors: {
      kind: "counter",
      name: "vigil_archive_store_errors_total",
      help: "Failed object writes (retried)",
    },
    logResets: {
      kind: "counter",
      name: "vigil_archive_log_resets_total",
      help:
        "Partition logs that started again below the archive's progress (topic created again, another cluster): archived under a new log name",
      labels: ["topic"],
    },
    lag: {
      kind: "gauge",
      name: "vigil_archive_lag",
      help: "High watermark minus the first offset not yet stored and committed",
      labels: ["topic", "partition"],
    },
  });
}

/**
 * `vigil_archive_lag` of the partitions read here: a partition's last high
 * watermark minus the first offset not yet stored and committed (the open
 * object's first, else the offset after the last stored object).
 */
export function createPartitionLag(lag: Gauge) {
  /** Per partition, the high watermark of its last batch (for the lag after a flush). */
  const highWater = new Map<string, bigint>();
  return {
    /** The high watermark of partition `key`'s latest batch. */
    watermark(key: string, hw: bigint): void {
      highWater.set(key, hw);
    },
    /** Set partition `key`'s lag from `pending`, its first offset not yet stored. */
    set(key: string, topic: string, partition: number, pending: bigint): void {
      const hw = highWater.get(key);
      if (hw === undefined) return;
      lag.set({ topic, partition }, Math.max(0, Number(hw - pending)));
    },
    /** A new generation: partitions this member may no longer own must not keep a lag. */
    clear(): void {
      highWater.clear();
      lag.reset();
    },
  };
}
