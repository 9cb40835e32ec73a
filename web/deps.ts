/**
 * What the web app needs, passed to {@link createApp} and its route modules.
 *
 * @module
 */
import type postgres from "postgres";
import type { Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import type { Redis } from "@vigil/shared/redis";
import type { Registry } from "@vigil/shared/metrics";
import type { ArchiveLister } from "./archive_lookup.ts";
import type { WebConfig } from "./config.ts";
import type { EvidenceRedis } from "./evidence.ts";
import type { WebMetrics } from "./metrics.ts";
import type { SeriesRedis } from "./series.ts";
import type { SseHub } from "./sse_hub.ts";
import type { StaticAssets } from "./static.ts";

/** The Redis commands the web app uses (on its command connection; `publish`: acknowledgements). */
export type WebRedis = EvidenceRedis & SeriesRedis & Pick<Redis, "ping" | "publish">;

/** Dependencies of the web app. */
export interface AppDeps {
  sql: postgres.Sql;
  redis: WebRedis;
  hub: SseHub;
  keys: Keys;
  log: Logger;
  config: Pick<
    WebConfig,
    | "VIGIL_API_TOKEN"
    | "WEB_PUBLIC_READ"
    | "ARCHIVE_PREFIX"
    | "S3_BUCKET"
    | "NOTIFIER_URL"
    | "DETECTOR_URL"
  >;
  registry: Registry;
  metrics: WebMetrics;
  /** Lister of the raw archive, to name each evidence event's object; omitted = folder only. */
  archive?: ArchiveLister | undefined;
  /** The page; omitted = API only. */
  assets?: StaticAssets | undefined;
  /** API reads (GET) answer 503 after this long. @default {WEB_REQUEST_DEADLINE_MS} */
  requestDeadlineMs?: number;
  /** Clock. @default Date.now */
  now?: () => number;
}
