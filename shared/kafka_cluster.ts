/**
 * The id of the Kafka cluster a client reaches. Kafka positions kept outside
 * Kafka (the bridge's high-water marks in Redis, the archive's progress
 * records) belong to one cluster: when the id changes (Kafka replaced, a dev
 * Kafka restarted), the same offsets name other messages.
 *
 * @module
 */
import type { Kafka } from "kafkajs";
import { withTimeout } from "./lifecycle.ts";
import type { Logger } from "./log.ts";
import { logRetry, retry } from "./retry.ts";

/**
 * The cluster id from the brokers' metadata, asked until they answer (each
 * attempt bounded to 15 s); null once `signal` aborted.
 */
export async function kafkaClusterId(
  kafka: Pick<Kafka, "admin">,
  options: { signal: AbortSignal; log: Logger },
): Promise<string | null> {
  try {
    return await retry(async () => {
      const admin = kafka.admin();
      try {
        return await withTimeout(
          admin.connect().then(() => admin.describeCluster()).then((c) => c.clusterId),
          15_000,
          "read the Kafka cluster id",
        );
      } finally {
        await admin.disconnect().catch(() => {});
      }
    }, {
      baseMs: 500,
      capMs: 5000,
      signal: options.signal,
      onRetry: logRetry(options.log, "read the Kafka cluster id"),
    });
  } catch (error) {
    if (options.signal.aborted) return null;
    throw error;
  }
}
