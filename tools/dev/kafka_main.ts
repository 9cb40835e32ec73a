/**
 * `deno task kafka`: runs the development Kafka (librdkafka's mock cluster)
 * until Ctrl-C. Prints the bootstrap servers and writes them to
 * `.vigil/kafka_brokers`, where services and tests look when `KAFKA_BROKERS`
 * is not set.
 *
 * Env: `KAFKA_DEV_BROKERS` (default 3), `KAFKA_DEV_PARTITIONS` (default 6).
 *
 * @module
 */
import { z } from "zod";
import { startMockKafka } from "./kafka_mock.ts";
import { KAFKA_BROKERS_FILE, parseEnv } from "@vigil/shared/config";
import { TOPICS } from "@vigil/shared/schemas/event";
import { createLogger } from "@vigil/shared/log";

const env = parseEnv(
  "kafka",
  z.object({
    KAFKA_DEV_BROKERS: z.coerce.number().int().min(1).max(9).default(3),
    KAFKA_DEV_PARTITIONS: z.coerce.number().int().min(1).max(256).default(6),
  }),
);
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
