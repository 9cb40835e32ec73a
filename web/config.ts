/**
 * Environment configuration of the web service (`deno task web`), parsed
 * once at start with zod.
 *
 * @module
 */
import { z } from "zod";
import { boolVar, commonEnv, durationVar, parseEnv, portVar } from "../shared/config.ts";

/** Environment schema of the web service. */
export const webEnvSchema = z.object({
  ...commonEnv,
  /** Port of the HTTP server (API, page, /metrics). */
  WEB_PORT: portVar.default(8080),
  /** Host the HTTP server binds; defaults to HTTP_HOST. */
  WEB_HOST: z.string().min(1).optional(),
  /** Bearer token for mutating endpoints; unset = they answer 503. */
  VIGIL_API_TOKEN: z.string().min(8, "must be at least 8 characters").optional(),
  /** Read endpoints open without a token (false: the token is required for them too). */
  WEB_PUBLIC_READ: boolVar.default(true),
  /** Interval of the stats heartbeat sent to live clients. */
  WEB_HEARTBEAT_INTERVAL: durationVar.pipe(z.number().min(1000)).default(10_000),
  /** Most live (SSE) clients at once; more get 503. */
  WEB_MAX_SSE_CLIENTS: z.coerce.number().int().min(1).default(5000),
  /** First path segment of archive object keys (as the archive's ARCHIVE_PREFIX). */
  ARCHIVE_PREFIX: z.string().regex(/^[\w.\-/]*$/, "must be [A-Za-z0-9_.-/]").default("raw"),
  /** Archive bucket (as the archive's S3_BUCKET), listed to find evidence objects; unset = ARCHIVE_DIR. */
  S3_BUCKET: z.string().min(3).max(63).optional(),
  /** S3 endpoint (MinIO, s3rver, …); unset with S3_BUCKET set means AWS. */
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style URLs (MinIO, s3rver need true). */
  S3_FORCE_PATH_STYLE: boolVar.default(true),
  /** The archive's local folder when S3_BUCKET is unset (as the archive's ARCHIVE_DIR). */
  ARCHIVE_DIR: z.string().min(1).default("./data/archive"),
}).superRefine((env, ctx) => {
  if (env.S3_BUCKET && Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY)) {
    ctx.addIssue({
      code: "custom",
      path: [env.S3_ACCESS_KEY_ID ? "S3_SECRET_ACCESS_KEY" : "S3_ACCESS_KEY_ID"],
      message: "must be set together with the other S3 key variable",
    });
  }
});

/** Resolved web configuration. */
export type WebConfig = Readonly<z.infer<typeof webEnvSchema>>;

/** Parse the web service's environment; throws a ConfigError naming the bad variables. */
export function parseWebConfig(env?: Record<string, string | undefined>): WebConfig {
  return parseEnv("web", webEnvSchema, env);
}
