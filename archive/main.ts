/**
 * `deno task archive`: consumes the Kafka topics (group `vigil-archive`)
 * and stores every raw message, byte for byte, as gzipped NDJSON objects in
 * S3 (S3_BUCKET set) or under ARCHIVE_DIR. Serves /health and /metrics on
 * ARCHIVE_PORT.
 *
 * @module
 */
import { configOrExit, resolveKafkaBrokers } from "@vigil/shared/config";
import { createKafka } from "@vigil/shared/kafka";
import { createLifecycle } from "@vigil/shared/lifecycle";
import { createLogger, errorMessage } from "@vigil/shared/log";
import { logRetry, retry } from "@vigil/shared/retry";
import { Registry } from "@vigil/shared/metrics";
import { runWorker } from "@vigil/shared/service";
import { createArchive } from "./archive.ts";
import {
  type ArchiveStore,
  createDirStore,
  createS3Client,
  createS3Store,
  storeRefusal,
} from "./store.ts";
import { parseArchiveConfig } from "./config.ts";

const config = configOrExit(() => parseArchiveConfig(), "archive");
const log = createLogger({ service: "archive", level: config.LOG_LEVEL });
const lifecycle = createLifecycle({ log });
const brokers = await resolveKafkaBrokers(config.KAFKA_BROKERS);

let store: ArchiveStore;
if (config.S3_BUCKET) {
  const client = createS3Client(config);
  lifecycle.onShutdown("s3 client", () => client.destroy());
  store = createS3Store({ client, bucket: config.S3_BUCKET });
} else {
  store = createDirStore(config.ARCHIVE_DIR);
}

// The store first: a bucket that does not exist or refuses access stops the archive here with
// what to fix (it failed every batch, one kafkajs stack trace per partition); one that does not
// answer yet is waited for.
try {
  await retry(() => store.check(), {
    signal: lifecycle.signal,
    baseMs: 500,
    capMs: 5000,
    isRetryable: (error) => storeRefusal(error, store.location) === undefined,
    onRetry: logRetry(log.with({ location: store.location }), "reach the archive store"),
  });
} catch (error) {
  if (lifecycle.signal.aborted) Deno.exit(130);
  log.error(`cannot start archive: ${storeRefusal(error, store.location) ?? errorMessage(error)}`);
  Deno.exit(2);
}

const metrics = new Registry();
const archive = createArchive({
  kafka: createKafka({ brokers, clientId: config.KAFKA_CLIENT_ID, log }),
  store,
  log,
  metrics,
  config: {
    prefix: config.ARCHIVE_PREFIX,
    policy: {
      maxMessages: config.ARCHIVE_FLUSH_MESSAGES,
      maxBytes: config.ARCHIVE_FLUSH_BYTES,
      maxAgeMs: config.ARCHIVE_FLUSH_INTERVAL,
    },
    sessionTimeoutMs: config.ARCHIVE_SESSION_TIMEOUT,
  },
});
await runWorker({ name: "archive", log, lifecycle }, {
  worker: archive,
  metrics,
  config,
  brokers,
  serve: { port: config.ARCHIVE_PORT, settings: { port: "ARCHIVE_PORT" } },
  fields: { location: store.location, prefix: config.ARCHIVE_PREFIX },
});
