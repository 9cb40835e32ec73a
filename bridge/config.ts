/**
 * Environment configuration of the bridge (`deno task bridge`) and the raw
 * archive (`deno task archive`), parsed once at start with zod.
 *
 * @module
 */
import { z } from "zod";
import { boolVar, commonEnv, durationVar, kafkaEnv, parseEnv, portVar } from "../shared/config.ts";
import { tracingEnv } from "../shared/tracing.ts";

const positiveInt = z.coerce.number().int().min(1);

/** Environment schema of the bridge. */
export const bridgeEnvSchema = z.object({
  ...commonEnv,
  ...kafkaEnv,
  ...tracingEnv,
  /** Approximate MAXLEN of every event stream and of the dead-letter stream. */
  BRIDGE_STREAM_MAXLEN: positiveInt.default(1_000_000),
  /** Port of the ops server (/health, /metrics). */
  BRIDGE_PORT: portVar.default(9102),
  /** Kafka partitions processed concurrently. */
  BRIDGE_CONCURRENCY: positiveInt.max(64).default(4),
  /** Messages per Lua script call (a partition batch is split into calls of at most this size). */
  BRIDGE_CHUNK_SIZE: positiveInt.max(5000).default(500),
  /** Messages whose value is larger than this are dead-lettered (`too_large`). */
  BRIDGE_MAX_EVENT_BYTES: positiveInt.default(1_048_576),
  /** Kafka group session timeout: how soon a crashed bridge's partitions move on. */
  BRIDGE_SESSION_TIMEOUT: durationVar.pipe(z.number().min(6000).max(300_000)).default(10_000),
});

/** Resolved bridge configuration. */
export type BridgeConfig = Readonly<z.infer<typeof bridgeEnvSchema>>;

/** Parse the bridge's environment; throws a ConfigError naming the bad variables. */
export function parseBridgeConfig(env?: Record<string, string | undefined>): BridgeConfig {
  return parseEnv("bridge", bridgeEnvSchema, env);
}

/**
 * Where the raw archive lives: the archive writes there, the web reads
 * evidence objects from there (spread into both services' env schemas).
 */
export const archiveLocationEnv = {
  /** S3 endpoint (MinIO, s3rver, …); unset with S3_BUCKET set means AWS. */
  S3_ENDPOINT: z.string().url().optional(),
  /** Bucket; when unset the archive is the local folder ARCHIVE_DIR instead of S3. */
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style URLs (MinIO, s3rver need true). */
  S3_FORCE_PATH_STYLE: boolVar.default(true),
  /** First path segment of every object key. */
  ARCHIVE_PREFIX: z.string().regex(/^[\w.\-/]*$/, "must be [A-Za-z0-9_.-/]").default("raw"),
  /** Local folder used when S3_BUCKET is unset. */
  ARCHIVE_DIR: z.string().min(1).default("./data/archive"),
};

/** Environment schema of the raw archive. */
export const archiveEnvSchema = z.object({
  ...commonEnv,
  ...kafkaEnv,
  /** Port of the archive's ops server. */
  ARCHIVE_PORT: portVar.default(9107),
  ...archiveLocationEnv,
  /** Flush a partition's buffer at this many messages. */
  ARCHIVE_FLUSH_MESSAGES: positiveInt.default(50_000),
  /** … or at this many uncompressed bytes. */
  ARCHIVE_FLUSH_BYTES: positiveInt.default(16 * 1024 * 1024),
  /** … or this long after its first message was buffered. */
  ARCHIVE_FLUSH_INTERVAL: durationVar.default(60_000),
  /** Kafka group session timeout of the archive consumer. */
  ARCHIVE_SESSION_TIMEOUT: durationVar.pipe(z.number().min(6000).max(300_000)).default(10_000),
}).superRefine((env, ctx) => {
  if (env.S3_BUCKET && Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
    ctx.addIssue({
      code: "custom",
      path: ["S3_SECRET_ACCESS_KEY"],
      message: "and S3_ACCESS_KEY_ID must be set together",
    });
  }
});

/** Resolved archive configuration. */
export type ArchiveConfig = Readonly<z.infer<typeof archiveEnvSchema>>;

/** Parse the archive's environment; throws a ConfigError naming the bad variables. */
export function parseArchiveConfig(env?: Record<string, string | undefined>): ArchiveConfig {
  return parseEnv("archive", archiveEnvSchema, env);
}
