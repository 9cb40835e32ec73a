/**
 * Environment configuration of the bridge (`deno task bridge`), parsed once
 * at start with zod.
 *
 * @module
 */
import { z } from "zod";
import {
  durationBetween,
  durationVar,
  intVar,
  kafkaEnv,
  parseEnv,
  partitionsEnv,
  portVar,
  redisEnv,
  serviceEnv,
} from "@vigil/shared/config";

/** Environment schema of the bridge. */
export const bridgeEnvSchema = z.object({
  ...redisEnv,
  ...serviceEnv,
  ...partitionsEnv,
  ...kafkaEnv,
  /**
   * Approximate MAXLEN of every event stream and of the dead-letter stream; entries the
   * detector has not processed are never trimmed (appends wait instead).
   */
  BRIDGE_STREAM_MAXLEN: intVar(1).default(1_000_000),
  /** Port of the ops server (/health, /metrics). */
  BRIDGE_PORT: portVar.default(9102),
  /** Kafka partitions processed concurrently. */
  BRIDGE_CONCURRENCY: intVar(1, 64).default(4),
  /** Messages per Lua script call (a partition batch is split into calls of at most this size). */
  BRIDGE_CHUNK_SIZE: intVar(1, 5000).default(500),
  /** Messages whose value is larger than this are dead-lettered (`too_large`). */
  BRIDGE_MAX_EVENT_BYTES: intVar(1).default(1_048_576),
  /** Bytes of a dead letter's value (and key) kept in its entry; size and SHA-256 cover it all. */
  BRIDGE_DLQ_RAW_BYTES: intVar(1, 1_048_576).default(4096),
  /** Extra (unknown) fields an event may carry at most. */
  BRIDGE_MAX_EXTRA_FIELDS: intVar(1, 1000).default(32),
  /** UTF-8 bytes of an event's extra fields, serialised, at most. */
  BRIDGE_MAX_EXTRA_BYTES: intVar(1, 1_048_576).default(8192),
  /** Nesting levels inside one extra field at most. */
  BRIDGE_MAX_EXTRA_DEPTH: intVar(1, 64).default(8),
  /** The `kafka_gaps` health check warns this long after messages were lost to retention. */
  BRIDGE_GAP_WARN_FOR: durationVar.default(3_600_000),
  /** Kafka group session timeout: how soon a crashed bridge's partitions move on. */
  BRIDGE_SESSION_TIMEOUT: durationBetween(6000, 300_000).default(10_000),
}).refine((c) => c.BRIDGE_STREAM_MAXLEN >= 10 * c.BRIDGE_CHUNK_SIZE, {
  // Appends wait while the detector has more left than MAXLEN keeps: a few chunks must fit.
  message: "must be at least 10 × BRIDGE_CHUNK_SIZE",
  path: ["BRIDGE_STREAM_MAXLEN"],
});

/** Resolved bridge configuration. */
export type BridgeConfig = Readonly<z.infer<typeof bridgeEnvSchema>>;

/** Parse the bridge's environment; throws a ConfigError naming the bad variables. */
export function parseBridgeConfig(env?: Record<string, string | undefined>): BridgeConfig {
  return parseEnv("bridge", bridgeEnvSchema, env);
}
