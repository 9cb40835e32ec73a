/**
 * `deno task detector`: consumes its share of the event stream partitions
 * (`vigil:events:{<kind>:<p>}`, consumer group `detector`; the live
 * instances share the partitions), applies the rules in
 * `DETECTOR_RULES_FILE` and the statistical engine, stores anomalies in
 * PostgreSQL (`anomaly_events`, migrations applied at start), caches recent
 * scores in Redis, and publishes alerts on `vigil:{alerts}` (stream) and
 * `vigil:alerts:live` (Pub/Sub). Serves /health, /metrics,
 * POST /api/alerts/evaluate, GET /api/alerts/status and GET /api/rules on
 * DETECTOR_PORT. The rules
 * file is read again on SIGHUP and when it changes (io/rules_reload.ts).
 *
 * @module
 */
import { connectPostgres } from "@vigil/shared/postgres";
import { configOrExit, httpServerOptions } from "@vigil/shared/config";
import { createKeys } from "@vigil/shared/keys";
import { createLifecycle } from "@vigil/shared/lifecycle";
import { survivePostgresWriteRace } from "@vigil/shared/postgres_errors";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { migrateAtStart } from "@vigil/shared/migrate";
import { createOpsApp } from "@vigil/shared/http/ops_app";
import { serve } from "@vigil/shared/http/serve";
import { createRedis, type Redis, redisConnection, redisHealth } from "@vigil/shared/redis";
import { ensurePartitionsOrExit, startOrExit, stepOrExit } from "@vigil/shared/service";
import { serviceTracer } from "@vigil/shared/telemetry";
import { loadDetectorConfig, loadDetectorRules } from "./config.ts";
import { createDetector } from "./detector.ts";
import { createEvaluateApp } from "./io/api.ts";
import { createRulesApp } from "./io/rules_api.ts";
import { createStatusApp } from "./io/status_api.ts";
import { createRulesReloader } from "./io/rules_reload.ts";
import { createPublisher } from "./io/publisher.ts";
import { createDetectorTracing } from "./io/tracing.ts";
import { createStatsEngine, type ScoreEngine } from "./core/score_engine.ts";
import { createStore } from "./io/store.ts";
import { claimMemberName } from "./io/member_name.ts";

const config = configOrExit(() => loadDetectorConfig(), "detector");
const log = createLogger({ service: "detector", level: config.LOG_LEVEL });
const lifecycle = createLifecycle({ log });
// A PostgreSQL outage can make postgres.js throw outside any query (shared/postgres_errors.ts).
survivePostgresWriteRace(log);
// Its count windows must fit in DETECTOR_REBUILD_WINDOW, at start and on every reload.
const loadRules = (path: string) => loadDetectorRules(path, config.DETECTOR_REBUILD_WINDOW);
let rules;
try {
  rules = await loadRules(config.DETECTOR_RULES_FILE);
} catch (error) {
  log.error("cannot start detector", { error: (error as Error).message });
  Deno.exit(2);
}
const member = config.DETECTOR_MEMBER ?? `${Deno.hostname()}-${Deno.pid}`;
const keys = createKeys(config.VIGIL_PREFIX);
const redis = createRedis(redisConnection(config), { log, name: `detector:${member}` });
const streamClients = new Set<Redis>();
const sql = connectPostgres(config.DATABASE_URL, {
  max: 4,
  connect_timeout: 5,
  idle_timeout: 60,
});
lifecycle.onShutdown("postgres", () => sql.end({ timeout: 5 }));
lifecycle.onShutdown("redis", () => {
  redis.disconnect();
  for (const c of streamClients.values()) c.disconnect();
});

// Migrations: retried until PostgreSQL answers (it may start after us); a refused
// DATABASE_URL (user, password, database) stops the start with what to fix (exit 2).
await stepOrExit(
  { name: "detector", log, lifecycle },
  () => migrateAtStart(sql, { log, signal: lifecycle.signal }),
);

await ensurePartitionsOrExit({ name: "detector", log, lifecycle }, redis, {
  metaKey: keys.meta(),
  partitions: config.VIGIL_PARTITIONS,
});

// One process per member name: a name another running detector renews stops the start (exit 2).
const memberName = {
  key: keys.detectorMemberName(member),
  member,
  token: crypto.randomUUID(),
  ttlMs: config.DETECTOR_LEASE_TTL,
};
await stepOrExit(
  { name: "detector", log, lifecycle },
  () => claimMemberName(redis, memberName, { log, signal: lifecycle.signal }),
);

const registry = new Registry();
const tracer = serviceTracer();
const tracing = tracer && createDetectorTracing(tracer);
const store = createStore({ sql });
const detector = createDetector({
  ...(tracing ? { tracing } : {}),
  redis,
  streamRedis(unit) {
    const c = createRedis(redisConnection(config), {
      log,
      name: `detector:${member}:${unit}`,
      blocking: true,
    });
    streamClients.add(c);
    c.once("end", () => streamClients.delete(c));
    return c;
  },
  store,
  publisher: await createPublisher({
    redis,
    keys,
    scoreTtlMs: config.SCORE_TTL,
    scoreKeep: config.SCORE_KEEP,
    alertsMaxLen: config.DETECTOR_ALERTS_MAXLEN,
  }),
  keys,
  log,
  registry,
  rules,
  engine: createStatsEngine() as ScoreEngine<unknown>,
  settings: {
    member,
    memberName,
    partitions: config.VIGIL_PARTITIONS,
    batchSize: config.DETECTOR_BATCH,
    blockMs: config.DETECTOR_BLOCK,
    claimIdleMs: config.DETECTOR_CLAIM_IDLE,
    maxDeliveries: config.DETECTOR_MAX_DELIVERIES,
    checkpointIntervalMs: config.DETECTOR_CHECKPOINT_INTERVAL,
    rebuildWindowMs: config.DETECTOR_REBUILD_WINDOW,
    leaseTtlMs: config.DETECTOR_LEASE_TTL,
    ioTimeoutMs: config.DETECTOR_IO_TIMEOUT,
    streamCheckMs: config.DETECTOR_NO_DATA_CHECK,
    stateLimits: {
      seriesIdleMs: config.DETECTOR_SERIES_IDLE_TTL,
      maxSeries: config.DETECTOR_MAX_SERIES,
      maxWindowEntities: config.DETECTOR_MAX_WINDOW_ENTITIES,
    },
  },
});

const app = createOpsApp({
  checks: {
    redis: () => redisHealth(redis),
    postgres: () => store.ping(),
    // The detail (which consumer is stuck, since when, how much is pending) is listed in /health.
    consumers: () => detector.health(),
    rules: () => reloader.health(), // warn: the file on disk was rejected
  },
  metrics: registry,
  log,
});
const reloader = createRulesReloader({
  path: config.DETECTOR_RULES_FILE,
  initial: rules,
  load: loadRules,
  apply(next) {
    const changes = detector.reconfigure(next);
    log.info("rules in force changed", { units: changes });
  },
  log,
  registry,
});
app.route(
  "/",
  createEvaluateApp({
    config: () => detector.rules().transactions.status_zscore,
    zscore: (status) => detector.zscore(status),
    dispatch: (firing, signal) => detector.dispatch(firing, signal),
    token: config.VIGIL_API_TOKEN,
    dispatchTimeoutMs: config.DETECTOR_IO_TIMEOUT + 5000,
    log,
  }),
);
app.route("/", createRulesApp({ rules: reloader, log }));
app.route("/", createStatusApp({ store, redis, keys, log }));
// Its port taken: "cannot start detector" and exit 1, as every service says it.
await startOrExit({ name: "detector", log, lifecycle }, () =>
  Promise.resolve(serve(app, {
    port: config.DETECTOR_PORT,
    ...httpServerOptions(config),
    log,
    label: "ops server",
    settings: { port: "DETECTOR_PORT" },
  })));

const watching = reloader.watch(lifecycle.signal).catch((error) => {
  log.error("rules file no longer watched", { error });
});
lifecycle.onShutdown("rules watch", () => watching);
const running = detector.run(lifecycle.signal).catch((error) => {
  log.error("detector stopped", { error });
  Deno.exitCode = 1;
});
// Registered last, so it runs first: the batch in hand, the checkpoint being
// written and the lease release finish before the connections close.
lifecycle.onShutdown("detector", () => running);
await running;
await lifecycle.shutdown("detector stopped");
