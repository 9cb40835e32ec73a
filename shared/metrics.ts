/**
 * A service's Prometheus metrics on prom-client: one {@link Registry} per
 * process, with prom-client's default process and runtime metrics, and the
 * `counter`/`gauge`/`histogram` factories the services register with.
 *
 * The metrics are prom-client's own (`counter.inc(labels, n)`,
 * `histogram.observe(labels, v)`, `gauge.set(labels, v)`; without labels
 * `inc(n)`, `observe(v)`, `set(v)`). Label values must be bounded (event
 * type, rule, severity, channel, partition): never user ids or free text.
 *
 * @module
 */
import client from "prom-client";
import { withTimeout } from "./lifecycle.ts";
import type { MetricsSource } from "./http/ops_app.ts";

export type { Counter, Gauge, Histogram } from "prom-client";

/** Default latency buckets in seconds (1 ms … 60 s). */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/**
 * prom-client's default metrics that read `/proc/self/*`: Deno grants those
 * files only with `--allow-all`, so under a service's task permissions they
 * would stay 0. The resident memory is taken from `Deno.memoryUsage()` instead.
 */
const PROC_METRICS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
];

/**
 * Most time a scrape waits for a gauge's `collect`. A Redis or PostgreSQL that
 * is down or hung holds the collect's query (ioredis retries it 20 times), and a
 * scrape that waits for it times out at the scraper (Prometheus' default 10 s,
 * the compose stack's 5 s): the service would look down, all its metrics gone,
 * during the very outage they tell about.
 */
export const COLLECT_TIMEOUT_MS = 1000;

/** One service's metrics: a prom-client registry with the default metrics. */
export class Registry implements MetricsSource {
  /** The prom-client registry itself. */
  readonly prom: client.Registry = new client.Registry();
  readonly #collectTimeoutMs: number;

  /** @param options.collectTimeoutMs @default {COLLECT_TIMEOUT_MS} */
  constructor(options: { collectTimeoutMs?: number } = {}) {
    this.#collectTimeoutMs = options.collectTimeoutMs ?? COLLECT_TIMEOUT_MS;
    client.collectDefaultMetrics({ register: this.prom });
    for (const name of PROC_METRICS) this.prom.removeSingleMetric(name);
    new client.Gauge({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      registers: [this.prom],
      collect() {
        this.set(Deno.memoryUsage().rss);
      },
    });
  }

  /** Content type of the exposition (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.prom.contentType;
  }

  /** The exposition text of every metric (runs the gauges' collect callbacks). */
  render(): Promise<string> {
    return this.prom.metrics();
  }

  /** Names of the registered metrics. */
  names(): string[] {
    return this.prom.getMetricsAsArray().map((m) => m.name);
  }

  /** A counter; registering a name again returns the same counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): client.Counter {
    return this.#existing(name, client.Counter) ??
      new client.Counter({ name, help, labelNames, registers: [this.prom] });
  }

  /**
   * A gauge; `collect` runs before each scrape to refresh it. A collect that
   * fails, or takes longer than the registry's collect timeout, leaves the
   * last values: the scrape itself must neither fail nor wait. A collect still
   * running is not started again; the next scrape waits for that one.
   */
  gauge(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    collect?: (gauge: client.Gauge) => void | Promise<void>,
  ): client.Gauge {
    const timeoutMs = this.#collectTimeoutMs;
    let running: Promise<void> | undefined;
    return this.#existing(name, client.Gauge) ?? new client.Gauge({
      name,
      help,
      labelNames,
      registers: [this.prom],
      ...(collect
        ? {
          async collect(this: client.Gauge) {
            running ??= Promise.resolve()
              .then(() => collect(this))
              .catch(() => {}) // the last values stay
              .finally(() => (running = undefined));
            // Past the timeout the last values stay (the collect goes on for the next scrape).
            await withTimeout(running, timeoutMs, "collect").catch(() => {});
          },
        }
        : {}),
    });
  }

  /** A histogram. @param buckets @default {LATENCY_BUCKETS} */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = LATENCY_BUCKETS,
  ): client.Histogram {
    return this.#existing(name, client.Histogram) ?? new client.Histogram({
      name,
      help,
      labelNames,
      buckets: [...buckets],
      registers: [this.prom],
    });
  }

  #existing<M>(name: string, kind: abstract new (...args: never[]) => M): M | undefined {
    const found = this.prom.getSingleMetric(name);
    if (found === undefined) return undefined;
    if (!(found instanceof kind)) {
      throw new TypeError(`Cannot register metric "${name}": already registered as another type`);
    }
    return found;
  }
}

/** One metric of a service's table: a gauge may have a `collect`, a histogram its `buckets`. */
export type MetricSpec =
  | { kind: "counter"; name: string; help: string; labels?: readonly string[] }
  | {
    kind: "gauge";
    name: string;
    help: string;
    labels?: readonly string[];
    collect?: (gauge: client.Gauge) => void | Promise<void>;
  }
  | {
    kind: "histogram";
    name: string;
    help: string;
    labels?: readonly string[];
    buckets?: readonly number[];
  };

/** The metrics a table of {@link MetricSpec}s declares, under the table's keys. */
export type DeclaredMetrics<T extends Record<string, MetricSpec>> = {
  [K in keyof T]: T[K]["kind"] extends "counter" ? client.Counter
    : T[K]["kind"] extends "gauge" ? client.Gauge
    : client.Histogram;
};

/**
 * Register a service's metrics from one table, in the table's order: each
 * entry through {@link Registry.counter}, {@link Registry.gauge} or
 * {@link Registry.histogram} by its kind.
 */
export function declareMetrics<const T extends Record<string, MetricSpec>>(
  registry: Pick<Registry, "counter" | "gauge" | "histogram">,
  table: T,
): DeclaredMetrics<T> {
  const declare = (spec: MetricSpec) => {
    switch (spec.kind) {
      case "counter":
        return registry.counter(spec.name, spec.help, spec.labels);
      case "gauge":
        return registry.gauge(spec.name, spec.help, spec.labels, spec.collect);
      case "histogram":
        return registry.histogram(spec.name, spec.help, spec.labels, spec.buckets);
    }
  };
  return Object.fromEntries(
    Object.entries(table).map(([key, spec]) => [key, declare(spec)]),
  ) as DeclaredMetrics<T>;
}
