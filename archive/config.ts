/**
 * Environment configuration of the raw archive (`deno task archive`), parsed
 * once at start with zod, and the archive's location, which the web reads too.
 *
 * @module
 */
import { z } from "zod";
import {
  boolVar,
  durationBetween,
  durationVar,
  intVar,
  kafkaEnv,
  parseEnv,
  pathVar,
  portVar,
  serviceEnv,
  urlVar,
} from "@vigil/shared/config";

/** The archive's folder when there is no bucket (the archive writes it, the web reads it). */
export const DEFAULT_ARCHIVE_DIR = "./data/archive";

/**
 * Where the raw archive lives: the archive writes there, the web reads
 * evidence objects from there (spread into both services' env schemas).
 */
export const archiveLocationEnv = {
  /** S3 endpoint (MinIO, s3rver, …); unset with S3_BUCKET set means AWS. */
  S3_ENDPOINT: urlVar(["http:", "https:"], "http://minio:9000").optional(),
  /** Bucket; when unset the archive is the local folder ARCHIVE_DIR instead of S3. */
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style URLs (MinIO, s3rver need true). */
  S3_FORCE_PATH_STYLE: boolVar.default(true),
  /** Longest wait for one S3 request (the SDK tries 3 times); a store that never answers fails. */
  S3_REQUEST_TIMEOUT: durationBetween(1000, 600_000).default(30_000),
  /** First path segment of every object key. */
  ARCHIVE_PREFIX: z.string().regex(/^[\w.\-/]*$/, "must be [A-Za-z0-9_.-/]").refine(
    // Leading and trailing slashes are dropped in object keys (archive/format.ts).
    (p) => p.split("/").every((part) => part !== "." && part !== ".."),
    "must not have a . or .. part (the local archive refuses such object keys)",
  ).refine(
    (p) => !p.replace(/^\/+|\/+$/g, "").includes("//"),
    "must not have an empty part (a//b: the local archive refuses such object keys)",
  ).default("raw"),
  /** Local folder used when S3_BUCKET is unset. */
  ARCHIVE_DIR: pathVar(["read", "write"], "a folder under ./data").default(DEFAULT_ARCHIVE_DIR),
};

/**
 * S3 settings that would not be read: without S3_BUCKET the archive is the local folder (an
 * S3_ENDPOINT set alone archived to ./data/archive, and the web looked there).
 */
export function s3WithoutBucket(
  env: { S3_BUCKET?: string | undefined } & Record<string, unknown>,
  ctx: z.RefinementCtx,
) {
  if (env.S3_BUCKET) return;
  for (const name of ["S3_ENDPOINT", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"]) {
    if (env[name] === undefined) continue;
    ctx.addIssue({
      code: "custom",
      path: [name],
      message: "needs S3_BUCKET (without it the archive is the local folder ARCHIVE_DIR): set " +
        "S3_BUCKET, or unset it",
    });
  }
}

/** Environment schema of the raw archive. */
export const archiveEnvSchema = z.object({
  ...serviceEnv,
  ...kafkaEnv,
  /** Port of the archive's ops server. */
  ARCHIVE_PORT: portVar.default(9107),
  ...archiveLocationEnv,
  /** Flush a partition's buffer at this many messages. */
  ARCHIVE_FLUSH_MESSAGES: intVar(1).default(50_000),
  /** … or at this many uncompressed bytes. */
  ARCHIVE_FLUSH_BYTES: intVar(1).default(16 * 1024 * 1024),
  /** … or this long after its first message was buffered. */
  ARCHIVE_FLUSH_INTERVAL: durationVar.default(60_000),
  /** Kafka group session timeout of the archive consumer. */
  ARCHIVE_SESSION_TIMEOUT: durationBetween(6000, 300_000).default(10_000),
}).superRefine((env, ctx) => {
  s3WithoutBucket(env, ctx);
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
