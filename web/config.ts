/**
 * Environment configuration of the web service (`deno task web`), parsed
 * once at start with zod.
 *
 * @module
 */
import { z } from "zod";
import {
  boolVar,
  commonEnv,
  durationBetween,
  intVar,
  listenHostVar,
  parseEnv,
  pathVar,
  portVar,
  urlVar,
} from "@vigil/shared/config";
import { archiveLocationEnv, DEFAULT_ARCHIVE_DIR, s3WithoutBucket } from "@vigil/archive/config";
import { apiTokenVar } from "@vigil/shared/http/bearer";

/** Environment schema of the web service. */
export const webEnvSchema = z.object({
  ...commonEnv,
  /** Port of the HTTP server (API, page, /metrics). */
  WEB_PORT: portVar.default(8080),
  /** Host the HTTP server binds; defaults to HTTP_HOST. */
  WEB_HOST: listenHostVar("WEB_PORT").optional(),
  /** Bearer token for mutating endpoints; unset = they answer 503. */
  VIGIL_API_TOKEN: apiTokenVar.optional(),
  /**
   * The notifier's base URL (its NOTIFIER_PORT), for the page's "Send test
   * notification" (`POST /api/notifications/test` is proxied there with
   * VIGIL_API_TOKEN); unset = that endpoint answers 503.
   */
  NOTIFIER_URL: urlVar(["http:", "https:"], "http://127.0.0.1:9104").optional(),
  /**
   * The detector's base URL (its DETECTOR_PORT), for the page's System panel
   * (`GET /api/system/rules` is proxied to its `GET /api/rules`); unset =
   * that endpoint answers 503.
   */
  DETECTOR_URL: urlVar(["http:", "https:"], "http://127.0.0.1:9103").optional(),
  /** Read endpoints open without a token (false: the token is required for them too). */
  WEB_PUBLIC_READ: boolVar.default(true),
  /**
   * Interval of the stats heartbeat sent to live clients; below the page's 45 s
   * watchdog (web/static/api.js), which takes a silent stream for dead and reconnects.
   */
  WEB_HEARTBEAT_INTERVAL: durationBetween(
    1000,
    30_000,
    "the page takes a live stream silent for 45 s as dead and reconnects",
  ).default(10_000),
  /** Most live (SSE) clients at once; more get 503. */
  WEB_MAX_SSE_CLIENTS: intVar(1).default(5000),
  /** The archive's location, listed to find evidence objects (the archive's own settings). */
  ...archiveLocationEnv,
  /** The archive's folder (S3_BUCKET unset), which the web only reads. */
  ARCHIVE_DIR: pathVar(["read"], `a folder under ${DEFAULT_ARCHIVE_DIR}`).default(
    DEFAULT_ARCHIVE_DIR,
  ),
}).superRefine((env, ctx) => {
  s3WithoutBucket(env, ctx);
  if (!env.WEB_PUBLIC_READ && !env.VIGIL_API_TOKEN) {
    ctx.addIssue({
      code: "custom",
      path: ["WEB_PUBLIC_READ"],
      message:
        "false needs VIGIL_API_TOKEN (without it every read would answer 503): set the token",
    });
  }
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
