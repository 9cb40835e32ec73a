/**
 * `bench:pipeline` support: each mode's summary over its runs (median and
 * range) and the Markdown report.
 *
 * @module
 */
import type { DrainResult } from "./pipeline_bench_drain.ts";
import type { LiveResult } from "./pipeline_bench_live.ts";
import type { ScaleResult } from "./pipeline_bench_scale.ts";
import {
  fmt,
  type machine,
  type Spread,
  spread,
  spreadByKey,
  table,
} from "./pipeline_bench_report.ts";

/** Summary of the drain runs. */
export function drainSummary(runs: readonly DrainResult[]) {
  return {
    per_s: spread(runs.map((r) => r.per_s), 0),
    raw_kafkajs_per_s: spread(runs.map((r) => r.raw_kafkajs.perS), 0),
    raw_kafkajs_cpu_us_per_msg: spread(runs.map((r) => r.raw_kafkajs.cpuUsPerMsg)),
    raw_xadd_per_s: spread(runs.map((r) => r.raw_xadd.perS), 0),
    ratio: spread(runs.map((r) => r.ratio)),
    cpu_us_per_event: spreadByKey(runs.map((r) => r.cpu_us_per_event)),
    exact: runs.every((r) => r.exact),
  };
}

/** Summary of the live runs: the highest rate held, and the figures at that rate. */
export function liveSummary(runs: readonly LiveResult[]) {
  const atHighest = runs.map((r) => r.steps.find((s) => s.rate === r.highest_held)).filter((s) =>
    s !== undefined
  );
  return {
    highest_held: spread(runs.map((r) => r.highest_held), 0),
    ingest_to_alert_p50_ms: spread(atHighest.map((s) => s.ingest_to_alert_ms.p50 ?? NaN), 1),
    ingest_to_alert_p99_ms: spread(atHighest.map((s) => s.ingest_to_alert_ms.p99 ?? NaN), 1),
    cpu_s_per_1000: spreadByKey(atHighest.map((s) => s.cpu_s_per_1000), 3),
  };
}

/** Summary of the scale runs, per instance count. */
export function scaleSummary(runs: readonly ScaleResult[]) {
  const counts = [...new Set(runs.flatMap((r) => r.configs.map((c) => c.instances)))];
  return Object.fromEntries(counts.map((n) => {
    const cs = runs.flatMap((r) => r.configs.filter((c) => c.instances === n));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return [n, {
      per_s: spread(cs.map((c) => c.per_s), 0),
      cpu_us_per_event_per_instance: spread(
        cs.map((c) => mean(c.cpu_us_per_event_per_instance)),
        1,
      ),
      cpu_us_per_event_total: spread(cs.map((c) => c.cpu_us_per_event_total), 1),
      takeover_ms: spread(cs.flatMap((c) => c.takeover_ms ?? []), 0),
      resumed_ms: spread(cs.flatMap((c) => c.resumed_ms ?? []), 0),
      exact: cs.every((c) => c.exact),
    }];
  }));
}

/** What `bench:pipeline` writes (`.json`) and renders (`.md`): each mode run, with its summary. */
export interface PipelineReport {
  started: string;
  args: string[];
  machine: ReturnType<typeof machine>;
  drain?: {
    partitions: number;
    with: string | undefined;
    runs: DrainResult[];
    summary: ReturnType<typeof drainSummary>;
  };
  live?: {
    partitions: number;
    duration_ms: number;
    runs: LiveResult[];
    summary: ReturnType<typeof liveSummary>;
  };
  scale?: {
    partitions: number;
    instances: number;
    runs: ScaleResult[];
    summary: ReturnType<typeof scaleSummary>;
  };
  finished?: string;
  machine_after?: ReturnType<typeof machine>;
}

/**
 * A mode's section of the report: its heading, its measures (name, value)
 * and the CPU of each process (`cpuHead`: what the figures are).
 */
function section(
  heading: string,
  measures: string[][],
  cpuHead: string,
  cpu: Record<string, Spread>,
): string[] {
  const perProcess = Object.entries(cpu).map(([name, s]) => [name, fmt(s)]);
  return [
    heading,
    "",
    table(["measure", "value"], measures),
    "",
    table(["process", cpuHead], perProcess),
    "",
  ];
}

/** The Markdown report of everything measured. */
export function renderMarkdown(report: PipelineReport): string {
  const out: string[] = ["# Pipeline benchmark", ""];
  const { machine: m, machine_after: after, drain, live, scale } = report;
  out.push(
    `\`deno task bench:pipeline ${report.args.join(" ")}\`, ` +
      `${report.started} – ${report.finished}, ${m.cores} cores, load average ${m.loadavg} ` +
      `before and ${after?.loadavg} after. Figures are the median (range) of the runs; ` +
      `CPU figures (from /proc/<pid>/stat) are what to trust on a shared machine.`,
    "",
  );
  if (drain) {
    const s = drain.summary;
    out.push(
      ...section(
        `## Drain (${drain.runs[0]?.events} events, ${drain.partitions} partition(s))`,
        [
          ["bridge + detector, first append → last ack", `${fmt(s.per_s)} events/s`],
          ["raw kafkajs consume + JSON.parse", `${fmt(s.raw_kafkajs_per_s)} msg/s`],
          ["raw kafkajs CPU", `${fmt(s.raw_kafkajs_cpu_us_per_msg)} µs/msg`],
          ["raw pipelined XADD", `${fmt(s.raw_xadd_per_s)} entries/s`],
          ["ratio pipeline / raw kafkajs", fmt(s.ratio)],
          ["anomalies exactly the scenarios'", s.exact ? "yes, every run" : "NO (see the JSON)"],
        ],
        "CPU µs per event",
        s.cpu_us_per_event,
      ),
    );
  }
  if (live) {
    const s = live.summary;
    out.push(
      ...section(
        `## Live (${live.duration_ms / 1000} s per rate, every service of \`up\`)`,
        [
          ["highest rate held", `${fmt(s.highest_held)} events/s`],
          ["ingest → alert p50", `${fmt(s.ingest_to_alert_p50_ms)} ms`],
          ["ingest → alert p99", `${fmt(s.ingest_to_alert_p99_ms)} ms`],
        ],
        "CPU s per 1,000 events",
        s.cpu_s_per_1000,
      ),
      table(
        ["run", "rate", "held", "max lag", "drained after", "why not"],
        live.runs.flatMap((r, i) =>
          r.steps.map((st) => [
            String(i + 1),
            String(st.rate),
            st.held ? "yes" : "no",
            String(st.max_lag),
            st.drained_after_s === null ? "–" : `${st.drained_after_s} s`,
            st.reasons.join("; "),
          ])
        ),
      ),
      "",
    );
  }
  if (scale) {
    out.push(`## Scale (${scale.partitions} partitions)`, "");
    out.push(
      table(
        [
          "detectors",
          "events/s",
          "CPU µs/event per instance",
          "all instances",
          "takeover",
          "exact",
        ],
        Object.entries(scale.summary).map(([n, s]) => [
          n,
          fmt(s.per_s),
          fmt(s.cpu_us_per_event_per_instance),
          fmt(s.cpu_us_per_event_total),
          Number.isNaN(s.takeover_ms.median)
            ? "–"
            : `${fmt(s.takeover_ms)} ms (drained again after ${fmt(s.resumed_ms)} ms)`,
          s.exact ? "yes" : "NO",
        ]),
      ),
      "",
    );
  }
  return out.join("\n");
}
