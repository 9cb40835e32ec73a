/**
 * The producer's environment, parsed once at start.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `KAFKA_BROKERS` | `.vigil/kafka_brokers`, else `localhost:9092` | bootstrap servers |
 * | `KAFKA_CLIENT_ID` | `vigil` | kafkajs client id |
 * | `PRODUCER_PORT` | `9101` | ops server port (`/health`, `/metrics`) |
 * | `HTTP_HOST` | `127.0.0.1` | ops server bind address |
 * | `HTTP_HEADER_TIMEOUT`, `HTTP_BODY_TIMEOUT`, `HTTP_MAX_HEADER_BYTES` | `10s`, `30s`, `32768` | request guard (docs/configuration.md) |
 * | `LOG_LEVEL` | `info` | debug, info, warn, error |
 * | `PRODUCER_LINGER_MS` | `5` (`200` on the dev Kafka) | wait for more messages before a partial batch |
 * | `PRODUCER_MAX_BATCH` | `1000` | messages per `sendBatch` |
 * | `PRODUCER_MAX_IN_FLIGHT` | `1` | batches in flight (backpressure bound); above 1 a key's messages may land out of order |
 * | `PRODUCER_IDEMPOTENT` | `false` | kafkajs idempotent producer (forces 1 batch in flight) |
 * | `PRODUCER_FLUSH_TIMEOUT` | `5s` | bound on the final flush (Ctrl-C waits it plus 5 s, at least 10 s) |
 * | `PRODUCER_CONNECT_TIMEOUT` | `30s` | how long to wait for Kafka at start (one log line per retry) |
 *
 * @module
 */
import { z } from "zod";
import type { BrokerSource } from "@vigil/shared/kafka_connect";
import {
  boolVar,
  commonEnv,
  durationBetween,
  httpEnv,
  intVar,
  kafkaEnv,
  parseEnv,
  portVar,
} from "@vigil/shared/config";

/** The producer's env schema. */
export const producerEnvSchema = z.object({
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  ...httpEnv,
  ...kafkaEnv,
  PRODUCER_PORT: portVar.default(9101),
  /** Unset: 5 ms, or 200 on the dev Kafka ({@link lingerMs}). */
  PRODUCER_LINGER_MS: durationBetween(0, 60_000).optional(),
  PRODUCER_MAX_BATCH: intVar(1, 100_000).default(1000),
  PRODUCER_MAX_IN_FLIGHT: intVar(1, 64).default(1),
  PRODUCER_IDEMPOTENT: boolVar.default(false),
  /** How long to wait for Kafka at start before the clear error. */
  PRODUCER_CONNECT_TIMEOUT: durationBetween(1000, 600_000).default(30_000),
  /** Bound on the final flush; Ctrl-C waits it plus 5 s (a timer: bounded). */
  PRODUCER_FLUSH_TIMEOUT: durationBetween(1000, 3_600_000, "0 would give up the flush at once")
    .default(5000),
});

/** The producer's resolved configuration. */
export type ProducerConfig = Readonly<z.infer<typeof producerEnvSchema>>;

/**
 * Parse the producer's environment.
 *
 * @throws {ConfigError} naming every bad variable
 */
export function loadProducerConfig(env?: Record<string, string | undefined>): ProducerConfig {
  return parseEnv("producer", producerEnvSchema, env);
}

/** The producer's linger on the dev Kafka when `PRODUCER_LINGER_MS` is unset (`deno task dev` too). */
export const DEV_KAFKA_LINGER_MS = 200;

/**
 * How long the producer waits to fill a batch: `PRODUCER_LINGER_MS` when set,
 * else {@link DEV_KAFKA_LINGER_MS} on the dev Kafka (found through its brokers
 * file) and 5 ms elsewhere. The dev Kafka (librdkafka's mock) serves one
 * produce batch per partition per fetch and finds a fetch's offset by walking
 * the partition's list of batches (up to 5 MiB of them): every batch costs a
 * walk per consumer group, so small batches saturate it once its retention is
 * full (at 1,700 events/s in 50 ms batches, about 5 minutes in), and it deletes
 * messages before the bridge reads them. 200 ms caps the batches at 72
 * partitions / 0.2 s = 360 a second at any rate (docs/benchmarks.md).
 */
export function lingerMs(source: BrokerSource, configured: number | undefined): number {
  return configured ?? (source === "dev-file" ? DEV_KAFKA_LINGER_MS : 5);
}
