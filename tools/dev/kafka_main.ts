/**
 * `deno task kafka`: runs the development Kafka (librdkafka's mock cluster)
 * until Ctrl-C. Prints the bootstrap servers and writes them to
 * `.vigil/kafka_brokers`, where services and tests look when `KAFKA_BROKERS`
 * is not set.
 *
 * Env: `KAFKA_DEV_BROKERS` (default 3), `KAFKA_DEV_PARTITIONS` (default 24).
 *
 * Retention: the mock keeps at most 5 MiB of record batches per partition
 * (and at most 100,000 batches), dropping whole produce batches from the
 * front; neither limit can be set (librdkafka 2.0.2 hard-codes them). So a
 * topic keeps about partitions × 5 MiB: more partitions are the only way to
 * give a consumer that falls behind more time before its messages are gone
 * (`docs/ingest.md`, "The dev Kafka's retention"). The cost is memory: up to
 * 3 topics × partitions × 5 MiB.
 *
 * @module
 */
import { devKafkaEnvSchema, MOCK_PARTITION_RETAINED_BYTES, startMockKafka } from "./kafka_mock.ts";
import { KAFKA_BROKERS_FILE, parseEnv } from "@vigil/shared/config";
import { TOPICS } from "@vigil/shared/schemas/event";
import { createLogger } from "@vigil/shared/log";

const env = parseEnv("kafka", devKafkaEnvSchema);
const log = createLogger({ service: "kafka" });
const cluster = startMockKafka({
  brokers: env.KAFKA_DEV_BROKERS,
  partitions: env.KAFKA_DEV_PARTITIONS,
  topics: TOPICS,
});
await Deno.mkdir(".vigil", { recursive: true });
await Deno.writeTextFile(KAFKA_BROKERS_FILE, cluster.bootstrap + "\n");
log.info("dev kafka started", {
  bootstrap: cluster.bootstrap,
  brokers: env.KAFKA_DEV_BROKERS,
  partitions: env.KAFKA_DEV_PARTITIONS,
  topics: TOPICS,
  file: KAFKA_BROKERS_FILE,
  retention_per_topic_mib: env.KAFKA_DEV_PARTITIONS * MOCK_PARTITION_RETAINED_BYTES / 1048576,
});
await Deno.stdout.write(new TextEncoder().encode(`KAFKA_BROKERS=${cluster.bootstrap}\n`));

const stop = Promise.withResolvers<void>();
for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => stop.resolve());
await stop.promise;
try {
  const current = await Deno.readTextFile(KAFKA_BROKERS_FILE);
  if (current.trim() === cluster.bootstrap) await Deno.remove(KAFKA_BROKERS_FILE);
} catch { /* already gone */ }
cluster.close();
log.info("dev kafka stopped");
Deno.exit(0);
