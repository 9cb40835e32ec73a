/**
 * Wiring of the notifier from its configuration: clients, channels, store,
 * ops server with the API, and the run loop. `main.ts` calls
 * {@link startNotifier}; integration tests call it in process.
 *
 * @module
 */
import { connectPostgres } from "@vigil/shared/postgres";
import { ConfigError } from "@vigil/shared/config";
import { createKeys, GROUPS } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { migrateAtStart } from "@vigil/shared/migrate";
import { createOpsApp } from "@vigil/shared/http/ops_app";
import { serve } from "@vigil/shared/http/serve";
import { createRedis, redisHealth } from "@vigil/shared/redis";
import { runCleanups, withTimeout } from "@vigil/shared/lifecycle";
import { serviceTracer } from "@vigil/shared/telemetry";
import { createRetentionMetrics, runRetentionLoop } from "@vigil/shared/retention/run";
import type { Channel } from "./channels/channel.ts";
import { createDiscordChannel } from "./channels/discord.ts";
import { createEmailChannel } from "./channels/email.ts";
import { createSlackChannel } from "./channels/slack.ts";
import { createWebhookChannel } from "./channels/webhook.ts";
import type { NotifierConfig } from "./config.ts";
import { createNotifierApi } from "./http.ts";
import { runNotifier } from "./notifier.ts";
import { DEFAULT_INHIBIT_RULES } from "./inhibit.ts";
import { parseRouting, type Routing } from "./routes.ts";
import { createStore } from "./store.ts";

/** A started notifier. */
export interface StartedNotifier {
  readonly port: number;
  readonly registry: Registry;
  /** Resolves once the own-pending scan finished and new entries are read. */
  readonly ready: Promise<void>;
  /** Stop and close everything (idempotent). */
  close(): Promise<void>;
}

/** The routes and inhibition rules (the file's, else the default route and rule). */
export async function loadRouting(config: NotifierConfig): Promise<Routing> {
  if (!config.routesFile) {
    return { routes: [config.defaultRoute], inhibitRules: [...DEFAULT_INHIBIT_RULES] };
  }
  // A ConfigError: the notifier stops with exit 2 (deno task dev restarted it, and it failed again).
  let text: string;
  try {
    text = await Deno.readTextFile(config.routesFile);
  } catch (error) {
    throw new ConfigError(
      `Cannot start notifier: NOTIFIER_ROUTES_FILE cannot be read (${(error as Error).message})`,
    );
  }
  try {
    const { defaultRoute, staleAfterMs } = config;
    return parseRouting(text, defaultRoute, defaultRoute.channels, staleAfterMs);
  } catch (error) {
    throw new ConfigError((error as Error).message, { cause: error });
  }
}

/**
 * The outbox folder, created at start: one that cannot be (OUTBOX_DIR naming a file) failed every
 * digest, retried until GIVE_UP_AFTER, while the notifier ran as if all was well.
 */
async function checkOutbox(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw new ConfigError(
      `Cannot start notifier: OUTBOX_DIR ${dir} cannot be used (${(error as Error).message}): ` +
        "fix OUTBOX_DIR (a folder under ./data)",
    );
  }
}

/** Build the channels the configuration enables. */
export function buildChannels(config: NotifierConfig): (Channel & { close?(): void })[] {
  const render = { webBaseUrl: config.webBaseUrl };
  const channels: (Channel & { close?(): void })[] = [
    createEmailChannel({
      ...render,
      from: config.emailFrom,
      to: config.emailTo,
      ...(config.smtp ? { smtp: { ...config.smtp, timeoutMs: config.sendTimeoutMs } } : {}),
      outboxDir: config.outboxDir,
    }),
  ];
  if (config.discordWebhookUrl) {
    channels.push(createDiscordChannel({ ...render, url: config.discordWebhookUrl }));
  }
  if (config.slackWebhookUrl) {
    channels.push(createSlackChannel({ ...render, url: config.slackWebhookUrl }));
  }
  if (config.webhookUrl) channels.push(createWebhookChannel({ ...render, url: config.webhookUrl }));
  return channels;
}

/** Start the notifier: migrate, connect, serve ops/API, run. */
export async function startNotifier(
  config: NotifierConfig,
  options: {
    log: Logger;
    /** Stops waiting for PostgreSQL at start. */
    signal?: AbortSignal;
  },
): Promise<StartedNotifier> {
  const { log } = options;
  const { routes, inhibitRules } = await loadRouting(config);
  if (!config.smtp) await checkOutbox(config.outboxDir);
  const sql = connectPostgres(config.databaseUrl, { max: 6 });
  // Migrations: retried until PostgreSQL answers (it may start after us); a refused
  // DATABASE_URL (user, password, database) rejects at once with what to fix.
  try {
    await migrateAtStart(sql, { log, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw error;
  }
  const redis = createRedis(config.redis, { log, name: "notifier" });
  const reader = createRedis(config.redis, { log, name: "notifier-reader", blocking: true });
  const keys = createKeys(config.prefix);
  const store = createStore(sql);
  const channels = buildChannels(config);
  const registry = new Registry();
  const tracer = serviceTracer();
  const controller = new AbortController();
  const { promise: ready, resolve: resolveReady } = Promise.withResolvers<void>();
  const handle = runNotifier(
    {
      redis,
      reader,
      stream: {
        key: keys.alerts(),
        dlq: keys.dlq(),
        group: GROUPS.notifier,
        consumer: config.consumer,
      },
      store,
      sql,
      connectLock: () => connectPostgres(config.databaseUrl, { max: 1 }),
      channels,
      log,
      registry,
      ...(tracer ? { tracer } : {}),
    },
    // The timers, flapping, retries and intake as configured (the same names).
    { ...config, routes, inhibitRules, delivery: config, onReady: resolveReady },
    controller.signal,
  );
  // Retention of every service's growing tables: the notifier owns it (light
  // load, one connection pool); an advisory lock lets one instance run it.
  const retention = config.retention.enabled
    ? runRetentionLoop(
      {
        sql,
        log: log.with({ task: "retention" }),
        metrics: createRetentionMetrics(registry),
        now: Date.now,
      },
      config.retention,
      { signal: controller.signal },
    )
    : Promise.resolve();
  const app = createOpsApp({
    checks: {
      redis: () => redisHealth(redis),
      postgres: async () => (await sql`SELECT 1 AS ok`).length === 1,
      intake: () => handle.health(),
    },
    metrics: registry,
    log,
  });
  app.route(
    "/",
    createNotifierApi({
      store,
      log,
      channels,
      token: config.apiToken,
      preview: { ...config, routes, inhibitRules },
      sendTimeoutMs: config.sendTimeoutMs,
    }),
  );
  const ops = serve(app, {
    port: config.port,
    ...config.http,
    log,
    label: "ops server",
    settings: { port: "NOTIFIER_PORT" },
  });
  log.info("notifier started", {
    channels: channels.map((c) => c.name),
    routes: routes.map((r) => r.name),
    email: config.smtp ? "smtp" : "outbox",
    consumer: config.consumer,
  });

  let closing: Promise<void> | undefined;
  return {
    port: ops.port,
    registry,
    ready,
    close() {
      closing ??= (async () => {
        controller.abort(new Error("shutdown"));
        await runCleanups(log, [
          ["ops server", () => ops.close()],
          ["reader", () => reader.disconnect()],
          ["run loop", () => withTimeout(handle.done, 8000, "stop notifier loop")],
          ["retention", () => withTimeout(retention, 6000, "stop retention")],
          ["channels", () => channels.forEach((c) => c.close?.())],
          ["redis", () => redis.disconnect()],
          ["postgres", () => sql.end({ timeout: 5 })],
        ]);
      })();
      return closing;
    },
  };
}
