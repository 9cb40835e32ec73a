/**
 * `deno task producer`: generates realistic logs, metric readings and
 * transactions (or replays a CSV, from a file or standard input) and
 * produces them to the Kafka topics `logs`, `metrics` and `transactions`,
 * keyed by service or user, each with a W3C `traceparent` header; labelled
 * anomaly scenarios on demand. Serves `/health` and `/metrics` on
 * PRODUCER_PORT. Exits 0 when every event was delivered, 1 otherwise, 2 on
 * bad flags or config.
 *
 * @module
 */
import { Partitioners } from "kafkajs";
import { startOrExit } from "@vigil/shared/service";
import {
  configOrExit,
  httpServerOptions,
  isEnvSet,
  resolveKafkaBrokers,
} from "@vigil/shared/config";
import { createKafka } from "@vigil/shared/kafka";
import { createLifecycle, untilAborted, withTimeout } from "@vigil/shared/lifecycle";
import { createLogger } from "@vigil/shared/log";
import { serviceTracer } from "@vigil/shared/telemetry";
import { Registry } from "@vigil/shared/metrics";
import { createOpsApp } from "@vigil/shared/http/ops_app";
import { serve } from "@vigil/shared/http/serve";
import { parseCli, USAGE } from "./cli.ts";
import { openReplay } from "./replay_source.ts";
import { lingerMs, loadProducerConfig } from "./config.ts";
import { brokerSource, kafkaHint, waitForKafka } from "@vigil/shared/kafka_connect";
import { createProducerMetrics } from "./metrics.ts";
import { runProducer } from "./run.ts";

const encoder = new TextEncoder();
const write = (text: string) => Deno.stdout.writeSync(encoder.encode(text));
const isTerminal = Deno.stdout.isTerminal();

let cli: ReturnType<typeof parseCli>;
try {
  cli = parseCli(Deno.args, () => crypto.getRandomValues(new Uint32Array(1))[0]!);
} catch (error) {
  // One JSON line like every other: compose runs the producer with its arguments.
  createLogger({ service: "producer" }).error((error as Error).message, {
    hint: "run with --help for usage",
  });
  Deno.exit(2);
}
if (cli.help) {
  write(USAGE);
  Deno.exit(0);
}
const options = cli.options;
const config = configOrExit(() => loadProducerConfig(), "producer");
const log = createLogger({
  service: "producer",
  level: config.LOG_LEVEL,
  // On a terminal, a log line first clears the live status line.
  ...(isTerminal ? { write: (line: string) => write(`\r\x1b[2K${line}\n`) } : {}),
});
// Ctrl-C waits for the final flush (PRODUCER_FLUSH_TIMEOUT) and the disconnect (3 s) before
// the forced exit, so a flush timeout longer than the usual 10 s still ends in the summary.
const lifecycle = createLifecycle({
  log,
  forceAfterMs: Math.max(10_000, config.PRODUCER_FLUSH_TIMEOUT + 5000),
});
/**
 * Ctrl-C before the producer runs (while a big replay file is read, or while it connects) stops
 * it there: it went on to start, sent nothing and said "finished" after "stopped", with exit
 * code 0.
 */
const stopIfInterrupted = () => lifecycle.signal.aborted && Deno.exit(130);
// A replay file is read and checked first: a missing file or a bad row is told before Kafka is.
// It is read in chunks (replay_source.ts): Ctrl-C stops the reading at once.
if (options.replay) {
  try {
    options.replay.data = await openReplay(options.replay.file, {
      ...options.replay,
      signal: lifecycle.signal,
    });
  } catch (error) {
    stopIfInterrupted();
    log.error("Cannot run producer", { error });
    Deno.exit(1);
  }
}
stopIfInterrupted();
const brokers = await resolveKafkaBrokers(config.KAFKA_BROKERS);
const source = brokerSource(config.KAFKA_BROKERS, brokers);
// No Kafka: one line per retry with a hint, then one clear error (not kafkajs' stack traces).
try {
  await waitForKafka({
    brokers,
    source,
    log,
    timeoutMs: config.PRODUCER_CONNECT_TIMEOUT,
    signal: lifecycle.signal,
  });
} catch (error) {
  stopIfInterrupted();
  log.error((error as Error).message, { brokers });
  await lifecycle.shutdown("kafka unreachable");
  Deno.exit(1);
}
const kafka = createKafka({ brokers, clientId: config.KAFKA_CLIENT_ID, log });
const producer = kafka.producer({
  createPartitioner: Partitioners.DefaultPartitioner,
  allowAutoTopicCreation: true,
  idempotent: config.PRODUCER_IDEMPOTENT,
  ...(config.PRODUCER_IDEMPOTENT ? { maxInFlightRequests: 1 } : {}),
});
lifecycle.onShutdown(
  "kafka producer",
  () => withTimeout(producer.disconnect(), 3000, "disconnect the Kafka producer"),
);
// A port that accepts connections but is not Kafka's (a wrong port: Redis, a web server)
// passes the probe above and never answers kafkajs: say so within the same timeout.
try {
  await withTimeout(
    untilAborted(producer.connect(), lifecycle.signal), // Ctrl-C: at once, not after kafkajs' 30 s
    config.PRODUCER_CONNECT_TIMEOUT,
    `connect to Kafka at ${brokers.join(",")}`,
  );
} catch (error) {
  stopIfInterrupted();
  // An answer that refuses the idempotent producer (the dev Kafka has no producer ids) was
  // reported as "did not answer within 30 s" at once, with a hint to restart the dev Kafka.
  if (config.PRODUCER_IDEMPOTENT && (error as Error).name !== "TimeoutError") {
    log.error(
      `Cannot start producer: Kafka at ${brokers.join(",")} refused an idempotent producer ` +
        `(${(error as Error).message}): PRODUCER_IDEMPOTENT needs a Kafka that supports it ` +
        "(the dev Kafka does not): unset it",
      { brokers },
    );
    await lifecycle.shutdown("kafka refused the idempotent producer");
    Deno.exit(2);
  }
  log.error(
    `Cannot start producer: ${brokers.join(",")} accepts connections but did not answer as ` +
      `a Kafka broker within ${config.PRODUCER_CONNECT_TIMEOUT / 1000} s (is it another ` +
      `service's port?); ${kafkaHint(source)}`,
    { brokers, error },
  );
  await lifecycle.shutdown("kafka unreachable");
  Deno.exit(1);
}
stopIfInterrupted();

const registry = new Registry();
const metrics = createProducerMetrics(registry);
const ops = createOpsApp({ checks: { kafka: () => metrics.health() }, metrics: registry, log });
const opsOptions = {
  ...httpServerOptions(config),
  log,
  label: "ops server",
  settings: { port: "PRODUCER_PORT" },
};
// Several producers on one machine are common (a replay beside `up`'s producer): when the
// default port is taken, the ops server takes a free one. A port set in PRODUCER_PORT is kept.
const portNamed = isEnvSet(Deno.env.toObject(), "PRODUCER_PORT");
await startOrExit({ name: "producer", log, lifecycle }, () => {
  try {
    return Promise.resolve(serve(ops, { port: config.PRODUCER_PORT, ...opsOptions }));
  } catch (error) {
    if (portNamed || !((error as Error).cause instanceof Deno.errors.AddrInUse)) throw error;
    log.warn("ops port in use (another producer?): serving on a free port", {
      port: config.PRODUCER_PORT,
      hint: "set PRODUCER_PORT to choose one",
    });
    return Promise.resolve(serve(ops, { port: 0, ...opsOptions }));
  }
});

const tracer = serviceTracer();
const running = runProducer(
  {
    producer,
    log,
    metrics,
    ...(tracer ? { tracer } : {}),
    output: { isTerminal, write },
  },
  {
    ...options,
    sink: {
      lingerMs: lingerMs(source, config.PRODUCER_LINGER_MS),
      maxBatch: config.PRODUCER_MAX_BATCH,
      // kafkajs' idempotent producer is only safe with one request in flight.
      maxInFlight: config.PRODUCER_IDEMPOTENT ? 1 : config.PRODUCER_MAX_IN_FLIGHT,
    },
    flushTimeoutMs: config.PRODUCER_FLUSH_TIMEOUT,
  },
  lifecycle.signal,
);
// On Ctrl-C the run loop stops and flushes before the producer is disconnected.
lifecycle.onShutdown("drain", () => running.catch(() => {}));

let code = 0;
try {
  const summary = await running;
  // Ctrl-C before a replay's, --count's or --duration's end: not done (`producer --replay f && …`).
  code = summary.interrupted ? 130 : summary.ok ? 0 : 1;
} catch (error) {
  log.error("Cannot run producer", { error });
  code = 1;
}
await lifecycle.shutdown("finished");
Deno.exit(code);
