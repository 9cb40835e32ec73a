/**
 * Test helper: an in-process dev Kafka cluster per test.
 *
 * @module
 */
import { type MockKafkaCluster, type MockKafkaOptions, startMockKafka } from "../dev/kafka_mock.ts";
import { dropKafkajsTimeoutWarning } from "@vigil/shared/kafka";

// Tests build kafkajs clients of their own too: keep their output clean the
// same way the services' is.
dropKafkajsTimeoutWarning();

/** Run `fn` with a fresh mock cluster (3 brokers, topics logs/metrics/transactions by default). */
export async function withKafka<T>(
  options: MockKafkaOptions,
  fn: (cluster: MockKafkaCluster) => Promise<T>,
): Promise<T> {
  const cluster = startMockKafka(options);
  try {
    return await fn(cluster);
  } finally {
    cluster.close();
  }
}

export { waitFor } from "./wait.ts";
