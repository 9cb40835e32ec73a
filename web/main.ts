/**
 * Vigil web: the HTTP API and live page.
 *
 * Consumes: PostgreSQL `anomaly_events` / `silences` (migrated at start),
 * Redis Pub/Sub `vigil:alerts:live` (one subscription for all live clients),
 * event streams `vigil:events:{<type>:<p>}` (evidence), the raw archive (S3
 * bucket or ARCHIVE_DIR, listed to name each evidence event's object) and
 * score caches `vigil:scores:*` (charts). Produces: JSON API, server-sent events, the
 * page, /metrics and /api/health on WEB_PORT (default 8080).
 *
 * @module
 */
import { configOrExit } from "@vigil/shared/config";
import { createLifecycle } from "@vigil/shared/lifecycle";
import { survivePostgresWriteRace } from "@vigil/shared/postgres_errors";
import { createLogger } from "@vigil/shared/log";
import { startOrExit } from "@vigil/shared/service";
import { parseWebConfig } from "./config.ts";
import { startWebServer } from "./server.ts";

const config = configOrExit(() => parseWebConfig(), "web");
const log = createLogger({ service: "web", level: config.LOG_LEVEL });
if (config.VIGIL_API_TOKEN === undefined) {
  log.warn("VIGIL_API_TOKEN is unset: acknowledging and silencing answer 503");
}
const lifecycle = createLifecycle({ log });
// A PostgreSQL outage can make postgres.js throw outside any query (shared/postgres_errors.ts).
survivePostgresWriteRace(log);
await startOrExit(
  { name: "web", log, lifecycle },
  () => startWebServer(config, { log, signal: lifecycle.signal }),
);
