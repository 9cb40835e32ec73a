/**
 * `deno task kafka`: runs the development Kafka (librdkafka's mock cluster)
 * until Ctrl-C (or until its terminal is closed). Prints the bootstrap
 * servers (`KAFKA_BROKERS=…` on stdout) and writes them to
 * `.vigil/kafka_brokers`, where services and tests look
 * when `KAFKA_BROKERS` is not set; at exit it removes the file if it still
 * names this cluster. A second dev Kafka with the same file refuses to start
 * (the first holds `<file>.lock`).
 *
 * Env: `KAFKA_DEV_BROKERS` (default 3), `KAFKA_DEV_PARTITIONS` (default 24),
 * `KAFKA_DEV_BROKERS_FILE` (default `.vigil/kafka_brokers`; `none`: no file,
 * for a dev stack of a test that must not redirect the user's own).
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
import { configOrExit, parseEnv } from "@vigil/shared/config";
import { TOPICS } from "@vigil/shared/schemas/event";
import { createLogger } from "@vigil/shared/log";

const env = configOrExit(() => parseEnv("kafka", devKafkaEnvSchema), "kafka");
const log = createLogger({ service: "kafka" });
const file = env.KAFKA_DEV_BROKERS_FILE;
if (file) {
  const dir = file.slice(0, file.lastIndexOf("/"));
  // One dev Kafka per brokers file: a second one would point the file (and every
  // service or replay started after it) at itself. The lock goes with the process,
  // however it ends.
  let lock: Deno.FsFile;
  try {
    if (dir) await Deno.mkdir(dir, { recursive: true });
    lock = await Deno.open(`${file}.lock`, { create: true, write: true });
  } catch (error) {
    // `deno task kafka` may write only under .vigil/: a path elsewhere ended in a stack trace.
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    log.error(
      `Cannot start kafka: KAFKA_DEV_BROKERS_FILE ${file} is outside .vigil/, where the task may ` +
        `write: use a path under .vigil/, or none`,
    );
    Deno.exit(2);
  }
  if (!(await lock.tryLock(true))) {
    log.error(
      `a dev Kafka already runs with ${file} (it holds ${file}.lock): stop it first, or use it with KAFKA_BROKERS=$(cat ${file})`,
    );
    Deno.exit(1);
  }
}
// Listening before the cluster starts and the file is written: a signal in between (a test or a
// user reacting to the "started" line) would otherwise end the process by default, leaving the
// file naming a cluster that is gone. SIGHUP: its terminal was closed.
const stop = Promise.withResolvers<void>();
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  Deno.addSignalListener(sig, () => stop.resolve());
}
const cluster = startMockKafka({
  brokers: env.KAFKA_DEV_BROKERS,
  partitions: env.KAFKA_DEV_PARTITIONS,
  topics: TOPICS,
});
if (file) await Deno.writeTextFile(file, cluster.bootstrap + "\n");
log.info("dev kafka started", {
  bootstrap: cluster.bootstrap,
  brokers: env.KAFKA_DEV_BROKERS,
  partitions: env.KAFKA_DEV_PARTITIONS,
  topics: TOPICS,
  file,
  retention_per_topic_mib: env.KAFKA_DEV_PARTITIONS * MOCK_PARTITION_RETAINED_BYTES / 1048576,
});
await Deno.stdout.write(new TextEncoder().encode(`KAFKA_BROKERS=${cluster.bootstrap}\n`));

await stop.promise;
try {
  if (file && (await Deno.readTextFile(file)).trim() === cluster.bootstrap) await Deno.remove(file);
} catch { /* already gone */ }
cluster.close();
log.info("dev kafka stopped");
Deno.exit(0);
