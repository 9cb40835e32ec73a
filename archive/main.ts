/**
 * `deno task archive`: consumes the Kafka topics (group `vigil-archive`)
 * and stores every raw message, byte for byte, as gzipped NDJSON objects in
 * S3 (S3_BUCKET set) or under ARCHIVE_DIR. Serves /health and /metrics on
 * ARCHIVE_PORT.
 *
 * @module
 */
import { configOrExit, httpServerOptions, resolveKafkaBrokers } from "@vigil/shared/config";
import { createKafka } from "@vigil/shared/kafka";
import { createLifecycle } from "@vigil/shared/lifecycle";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { runWorker } from "@vigil/shared/service";
import { createArchive } from "./archive.ts";
import { type ArchiveStore, createDirStore, createS3Client, createS3Store } from "./store.ts";
import { parseArchiveConfig } from "./config.ts";

const config = configOrExit(() => parseArchiveConfig());
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
  serve: {
    port: config.ARCHIVE_PORT,
    ...httpServerOptions(config),
    settings: { port: "ARCHIVE_PORT" },
  },
  fields: { brokers, location: store.location, prefix: config.ARCHIVE_PREFIX },
});
