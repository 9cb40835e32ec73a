/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the Prometheus text exposition format (version 0.0.4).
 *
 * Label values must be bounded (event type, rule, severity, channel,
 * partition): never user ids or free text.
 *
 * @module
 */

type Labels = Record<string, string | number>;

interface Metric {
  readonly name: string;
  render(): string;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelKey(names: readonly string[], labels: Labels | undefined): string {
  if (names.length === 0) return "";
  return names.map((n) => {
    const v = labels?.[n];
    if (v === undefined) throw new TypeError(`Cannot record metric: label "${n}" is missing`);
    return `${n}="${escapeLabel(String(v))}"`;
  }).join(",");
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${
    help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
  }\n# TYPE ${name} ${type}\n`;
}

/** A monotonically increasing counter. */
export class Counter implements Metric {
  #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}
  /** Add `by` (default 1). */
  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Cannot add ${by} to counter ${this.name}`);
    const k = labelKey(this.labelNames, labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  /** Current value (tests). */
  get(labels?: Labels): number {
    return this.#values.get(labelKey(this.labelNames, labels)) ?? 0;
  }
  render(): string {
    let out = header(this.name, this.help, "counter");
    if (this.#values.size === 0 && this.labelNames.length === 0) out += `${this.name} 0\n`;
    for (const [k, v] of this.#values) out += `${this.name}${k ? `{${k}}` : ""} ${fmt(v)}\n`;
    return out;
  }
}

/** A value that goes up and down; may be computed at scrape time. */
export class Gauge implements Metric {
  #values = new Map<string, number>();
  #collect: (() => void | Promise<void>) | undefined;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
    collect?: (g: Gauge) => void | Promise<void>,
  ) {
    this.#collect = collect ? () => collect(this) : undefined;
  }
  set(labels: Labels | undefined, value: number): void {
    this.#values.set(labelKey(this.labelNames, labels), value);
  }
  inc(labels?: Labels, by = 1): void {
    const k = labelKey(this.labelNames, labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }
  dec(labels?: Labels, by = 1): void {
    this.inc(labels, -by);
  }
  get(labels?: Labels): number {
    return this.#values.get(labelKey(this.labelNames, labels)) ?? 0;
  }
  /** Forget every labelled value (before a collect refills them). */
  reset(): void {
    this.#values.clear();
  }
  async collect(): Promise<void> {
    if (this.#collect) await this.#collect();
  }
  render(): string {
    let out = header(this.name, this.help, "gauge");
    if (this.#values.size === 0 && this.labelNames.length === 0) out += `${this.name} 0\n`;
    for (const [k, v] of this.#values) out += `${this.name}${k ? `{${k}}` : ""} ${fmt(v)}\n`;
    return out;
  }
}

/** Default latency buckets in seconds (1 ms … 60 s). */
export const LATENCY_BUCKETS = [
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

/** A cumulative histogram. */
export class Histogram implements Metric {
  #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
    buckets: readonly number[] = LATENCY_BUCKETS,
  ) {
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  /** Record one value (NaN is ignored: it would poison `_sum`). */
  observe(labels: Labels | undefined, value: number): void {
    const k = labelKey(this.labelNames, labels);
    if (Number.isNaN(value)) return;
    let s = this.#series.get(k);
    if (!s) {
      s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        s.counts[i]!++;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }
  /** Number of observations (tests). */
  count(labels?: Labels): number {
    return this.#series.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }
  render(): string {
    let out = header(this.name, this.help, "histogram");
    for (const [k, s] of this.#series) {
      const pre = k ? `${k},` : "";
      let cum = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cum += s.counts[i]!;
        out += `${this.name}_bucket{${pre}le="${fmt(this.buckets[i]!)}"} ${cum}\n`;
      }
      out += `${this.name}_bucket{${pre}le="+Inf"} ${s.count}\n`;
      out += `${this.name}_sum${k ? `{${k}}` : ""} ${fmt(s.sum)}\n`;
      out += `${this.name}_count${k ? `{${k}}` : ""} ${s.count}\n`;
    }
    return out;
  }
}

/** A set of metrics rendered together. Process metrics are included. */
export class Registry {
  #metrics = new Map<string, Metric>();
  constructor(readonly service: string) {
    this.gauge("process_resident_memory_bytes", "Resident memory size in bytes", [], (g) => {
      g.set(undefined, Deno.memoryUsage().rss);
    });
    this.gauge("process_heap_used_bytes", "V8 heap used in bytes", [], (g) => {
      g.set(undefined, Deno.memoryUsage().heapUsed);
    });
    const started = Date.now() / 1000;
    this.gauge("process_start_time_seconds", "Start time since the epoch in seconds").set(
      undefined,
      started,
    );
  }
  #add<M extends Metric>(metric: M): M {
    const existing = this.#metrics.get(metric.name);
    if (existing) {
      // Registering twice returns the same metric, but only if it is the same kind.
      if (existing.constructor !== metric.constructor) {
        throw new TypeError(
          `Cannot register metric "${metric.name}": already registered as a ${existing.constructor.name.toLowerCase()}`,
        );
      }
      return existing as M;
    }
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.name)) {
      throw new TypeError(`Cannot register metric: invalid name "${metric.name}"`);
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }
  counter(name: string, help: string, labels: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labels));
  }
  gauge(
    name: string,
    help: string,
    labels: readonly string[] = [],
    collect?: (g: Gauge) => void | Promise<void>,
  ): Gauge {
    return this.#add(new Gauge(name, help, labels, collect));
  }
  histogram(
    name: string,
    help: string,
    labels: readonly string[] = [],
    buckets?: readonly number[],
  ): Histogram {
    return this.#add(new Histogram(name, help, labels, buckets));
  }
  /** Names of registered metrics. */
  names(): string[] {
    return [...this.#metrics.keys()];
  }
  /** Render every metric (runs gauges' collect callbacks first). */
  async render(): Promise<string> {
    const parts: string[] = [];
    for (const m of this.#metrics.values()) {
      if (m instanceof Gauge) {
        try {
          await m.collect();
        } catch {
          // A failing collector leaves its last values; scraping must not fail.
        }
      }
      parts.push(m.render());
    }
    return parts.join("");
  }
}

/** Content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
