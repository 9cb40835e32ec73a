/**
 * The archive's metrics (`vigil_archive_*`; its Kafka gap counter is
 * shared/kafka_gaps.ts's).
 *
 * @module
 */
import { declareMetrics, type Registry } from "@vigil/shared/metrics";

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
