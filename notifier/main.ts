/**
 * Notifier entry point. Consumes alerts from the Redis stream `vigil:{alerts}`
 * (consumer group `notifier`), sends grouped digests by email (SMTP or a
 * local `.eml` outbox), Discord, Slack and a generic webhook, records every
 * attempt in PostgreSQL (`notifications`), and serves
 * `GET /api/notifications` with /health and /metrics on NOTIFIER_PORT
 * (default 9104). Silences are the web's; the notifier only reads them.
 *
 * @module
 */
import { configOrExit } from "@vigil/shared/config";
import { createLifecycle } from "@vigil/shared/lifecycle";
import { survivePostgresWriteRace } from "@vigil/shared/postgres_errors";
import { createLogger } from "@vigil/shared/log";
import { startOrExit } from "@vigil/shared/service";
import { startNotifier } from "./app.ts";
import { loadConfig } from "./config.ts";

const config = configOrExit(() => loadConfig(), "notifier");
const log = createLogger({ service: "notifier", level: config.logLevel });
const lifecycle = createLifecycle({ log });
// A PostgreSQL outage can make postgres.js throw outside any query (shared/postgres_errors.ts).
survivePostgresWriteRace(log);
await startOrExit(
  { name: "notifier", log, lifecycle },
  () => startNotifier(config, { log, signal: lifecycle.signal }),
);
