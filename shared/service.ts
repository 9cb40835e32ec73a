/**
 * The start-up steps the service mains share. A `main.ts` reads its config,
 * wires its parts, then hands over to one of these: {@link startOrExit} for
 * a service whose start returns a running server (web, notifier),
 * {@link runWorker} for a Kafka consumer that runs until shutdown (archive,
 * bridge). {@link ensurePartitionsOrExit} refuses to start on streams written
 * with another partition count.
 *
 * @module
 */
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./log.ts";
import { createOpsApp, type HealthDetail, type MetricsSource } from "./http/ops_app.ts";
import { serve, type ServeOptions } from "./http/serve.ts";
import { ensurePartitions, type Redis, REDIS_HINT } from "./redis.ts";
import { ConfigError, httpServerOptions } from "./config.ts";
import { afterKafka, brokerSource } from "./kafka_connect.ts";
import { logRetry, retry } from "./retry.ts";

/** What a service main has once its config is read. */
export interface ServiceContext {
  /** Names the service in its log lines. */
  name: string;
  log: Logger;
  lifecycle: Lifecycle;
}

/**
 * Start the service with `start` and close what it returns at shutdown; when
 * it cannot start, log "cannot start <name>" and exit 1, or 2 for a {@link ConfigError} (a setting
 * found wrong while starting: `deno task dev` does not restart it); stopped while waiting for a
 * dependency, it runs the cleanups and exits 0 as any stop does.
 */
export async function startOrExit<T extends { close(): unknown }>(
  ctx: ServiceContext,
  start: () => Promise<T>,
): Promise<T> {
  const running = await stepOrExit(ctx, start);
  ctx.lifecycle.onShutdown(ctx.name, () => running.close());
  return running;
}

/** A step of the start (migrations…) with nothing to close: when it fails, exit as {@link startOrExit}. */
export async function stepOrExit<T>(ctx: ServiceContext, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (ctx.lifecycle.signal.aborted) {
      // Stopped while waiting (PostgreSQL not up yet): a stop, not a failed start. It exited 1 at
      // once, without its cleanups or the "stopped" line.
      await ctx.lifecycle.shutdown();
      Deno.exit(0);
    }
    ctx.log.error(`cannot start ${ctx.name}`, { error });
    Deno.exit(error instanceof ConfigError ? 2 : 1);
  }
}

/**
 * Record or check the partition count of the streams (`ensurePartitions`), waiting for Redis
 * (it may start after us: one command gives up after ioredis' retries, about 30 s, which stopped
 * the start with exit 2 as for a bad setting); on a mismatch, log "cannot start <name>" with the
 * reason and exit 2.
 */
export async function ensurePartitionsOrExit(
  ctx: ServiceContext,
  redis: Pick<Redis, "hsetnx" | "hget">,
  options: { metaKey: string; partitions: number },
): Promise<void> {
  await stepOrExit(
    ctx,
    () =>
      retry(() => ensurePartitions(redis, options.metaKey, options.partitions), {
        signal: ctx.lifecycle.signal,
        baseMs: 1000,
        capMs: 5000,
        isRetryable: (error) => !(error instanceof ConfigError),
        onRetry: logRetry(ctx.log.with({ hint: REDIS_HINT }), "reach Redis"),
      }),
  );
}

/** A consumer that runs until shutdown. */
export interface Worker {
  /** Its health checks, served on the ops port. */
  readonly checks: Record<string, () => Promise<boolean | HealthDetail> | boolean | HealthDetail>;
  /** Consume until `signal` aborts, or reject when it failed for good. */
  run(signal: AbortSignal): Promise<void>;
  /** Stop consuming (idempotent). */
  close(): Promise<void>;
}

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  worker: Worker;
  metrics: MetricsSource;
  /** Its settings: HTTP (of the ops app) and KAFKA_BROKERS. */
  config: Parameters<typeof httpServerOptions>[0] & { KAFKA_BROKERS?: string[] | undefined };
  /** The Kafka brokers resolved from KAFKA_BROKERS. */
  brokers: string[];
  /** Where the ops app (health, metrics) listens. */
  serve: Pick<ServeOptions, "port" | "settings">;
  /** Fields of the "<name> starting" log line, after `brokers`. */
  fields: Record<string, unknown>;
}

/**
 * Serve the worker's ops app, log "<name> starting", run the worker once Kafka accepts
 * connections ({@link afterKafka}) until the lifecycle's signal, then shut down and exit: 0 when
 * it stopped, 1 (logged "<name> failed") when it failed.
 */
export async function runWorker(ctx: ServiceContext, options: RunWorkerOptions): Promise<never> {
  const { log, lifecycle, name } = ctx;
  const { metrics, config, brokers } = options;
  const source = brokerSource(config.KAFKA_BROKERS, brokers);
  const worker = afterKafka(options.worker, { brokers, source, log });
  let ops: ReturnType<typeof serve>;
  try {
    ops = serve(createOpsApp({ checks: worker.checks, metrics, log }), {
      ...options.serve,
      ...httpServerOptions(config),
      log,
      label: "ops server",
    });
  } catch (error) {
    log.error(`cannot start ${name}`, { error });
    Deno.exit(1);
  }
  lifecycle.onShutdown("ops server", () => ops.close());
  lifecycle.onShutdown("kafka consumer", () => worker.close());
  log.info(`${name} starting`, { brokers, ...options.fields });
  try {
    await worker.run(lifecycle.signal);
    await lifecycle.shutdown("consumer stopped");
    Deno.exit(0);
  } catch (error) {
    log.error(`${name} failed`, { error });
    await lifecycle.shutdown(`${name} failed`);
    Deno.exit(1);
  }
}
