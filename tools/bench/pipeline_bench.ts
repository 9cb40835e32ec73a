/**
 * `deno task bench:pipeline`: the whole pipeline measured from outside, on
 * real processes started with their `deno task` command lines (dev Kafka,
 * bridge, detector, and the archive, notifier and web where asked), each
 * against a fresh key prefix and PostgreSQL database.
 *
 * Modes (`--mode=drain,live,scale`, default `drain`), one report
 * `test-output/pipeline_bench.{json,md}`:
 * - `drain` (pipeline_bench_drain.ts): `--events=N` labelled events prefilled, the
 *   raw kafkajs consume and raw XADD rates on them, then the services; events/s
 *   from the first append to the last acknowledgement, the ratio to the raw
 *   kafkajs rate, CPU per event per process, and the anomalies found must be
 *   exactly the scenarios' ones.
 * - `live` (pipeline_bench_live.ts): the producer at each of `--rates` for
 *   `--duration` with every service of `up`; the highest rate held with bounded
 *   lag and nothing skipped, ingest → alert p50/p99, CPU s per 1,000 events.
 * - `scale` (pipeline_bench_scale.ts): `--partitions=P` with 1 and `--instances=n`
 *   detectors; CPU per event per instance, and the takeover time when one is
 *   killed with SIGKILL.
 *
 * Flags: `--events` (default 200000), `--runs` (default 3; figures are the
 * median and range), `--partitions` (VIGIL_PARTITIONS, default 1 for drain and
 * live, 4 for scale), `--kafka-partitions` (default 24), `--with=archive,…`
 * (drain), `--rates=5000,10000,20000`, `--duration=5m`, `--max-lag=5s`,
 * `--linger=5ms` (the producer's PRODUCER_LINGER_MS) (live), `--profile=bridge,detector` (drain and live: V8 CPU profiles of those
 * processes in `test-output/profiles/`), `--instances=2`, `--lease-ttl=10s` (scale), `--out=test-output/pipeline_bench`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { durationVar } from "@vigil/shared/config";
import { dropKafkajsTimeoutWarning } from "@vigil/shared/kafka";
import { type DrainResult, runDrain } from "./pipeline_bench_drain.ts";
import { type LiveResult, runLive } from "./pipeline_bench_live.ts";
import { runScale, type ScaleResult } from "./pipeline_bench_scale.ts";
import {
  drainSummary,
  liveSummary,
  type PipelineReport,
  renderMarkdown,
  scaleSummary,
} from "./pipeline_bench_summary.ts";
import { machine } from "./pipeline_bench_report.ts";
import { print as say } from "./_cli.ts";

dropKafkajsTimeoutWarning();
const { values } = parseArgs({
  args: Deno.args,
  options: {
    mode: { type: "string", default: "drain" },
    events: { type: "string", default: "200000" },
    runs: { type: "string", default: "3" },
    partitions: { type: "string" },
    "kafka-partitions": { type: "string", default: "24" },
    with: { type: "string", default: "" },
    rates: { type: "string", default: "5000,10000,20000" },
    duration: { type: "string", default: "5m" },
    "max-lag": { type: "string", default: "5s" },
    instances: { type: "string", default: "2" },
    "lease-ttl": { type: "string" },
    profile: { type: "string", default: "" },
    linger: { type: "string" },
    out: { type: "string", default: "test-output/pipeline_bench" },
  },
});
function positive(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `Cannot run the benchmark: --${name} must be a positive integer, got ${v}`,
    );
  }
  return n;
}
const modes = values.mode!.split(",").map((m) => m.trim());
const unknown = modes.find((m) => !["drain", "live", "scale"].includes(m));
if (unknown) throw new TypeError(`Cannot run the benchmark: unknown mode "${unknown}"`);
const runs = positive("runs", values.runs);
const events = positive("events", values.events);
const kafkaPartitions = positive("kafka-partitions", values["kafka-partitions"]);
const report: PipelineReport = {
  started: new Date().toISOString(),
  args: Deno.args,
  machine: machine(),
};

if (modes.includes("drain")) {
  const partitions = positive("partitions", values.partitions ?? "1");
  const results: DrainResult[] = [];
  for (let i = 0; i < runs; i++) {
    say(`drain run ${i + 1}/${runs}: ${events} events, ${partitions} stream partition(s)`);
    const r = await runDrain({
      events,
      partitions,
      kafkaPartitions,
      with: values.with!.split(",").filter(Boolean),
      profile: values.profile!.split(",").filter(Boolean),
      say: (l) => say(`  ${l}`),
    });
    say(
      `  ${r.per_s} events/s (ratio ${r.ratio}), CPU µs/event ${
        JSON.stringify(r.cpu_us_per_event)
      }, exact: ${r.exact}${
        r.exact
          ? ""
          : ` (missing ${JSON.stringify(r.anomalies.missing)}, unexpected ${
            JSON.stringify(r.anomalies.unexpected)
          })`
      }`,
    );
    results.push(r);
  }
  report.drain = { partitions, with: values.with, runs: results, summary: drainSummary(results) };
}
if (modes.includes("live")) {
  const rates = values.rates!.split(",").map((r) => positive("rates", r)).sort((a, b) => a - b);
  const durationMs = durationVar.parse(values.duration);
  const maxLagMs = durationVar.parse(values["max-lag"]);
  const partitions = positive("partitions", values.partitions ?? "1");
  const results: LiveResult[] = [];
  for (let i = 0; i < runs; i++) {
    say(`live run ${i + 1}/${runs}: rates ${rates.join(", ")} for ${values.duration} each`);
    results.push(
      await runLive({
        profile: values.profile!.split(",").filter(Boolean),
        ...(values.linger ? { lingerMs: durationVar.parse(values.linger) } : {}),
        rates,
        durationMs,
        maxLagMs,
        partitions,
        kafkaPartitions,
        say: (l) => say(`  ${l}`),
      }),
    );
  }
  report.live = {
    partitions,
    duration_ms: durationMs,
    runs: results,
    summary: liveSummary(results),
  };
}
if (modes.includes("scale")) {
  const partitions = positive("partitions", values.partitions ?? "4");
  const instances = positive("instances", values.instances);
  const results: ScaleResult[] = [];
  for (let i = 0; i < runs; i++) {
    say(`scale run ${i + 1}/${runs}: ${partitions} partitions, 1 vs ${instances} detectors`);
    results.push(
      await runScale({
        events,
        partitions,
        instances,
        kafkaPartitions,
        ...(values["lease-ttl"] ? { leaseTtlMs: durationVar.parse(values["lease-ttl"]) } : {}),
        say: (l) => say(`  ${l}`),
      }),
    );
  }
  report.scale = { partitions, instances, runs: results, summary: scaleSummary(results) };
}
report.finished = new Date().toISOString();
report.machine_after = machine();
const out = values.out!;
await Deno.mkdir(out.split("/").slice(0, -1).join("/") || ".", { recursive: true });
await Deno.writeTextFile(`${out}.json`, JSON.stringify(report, null, 2) + "\n");
await Deno.writeTextFile(`${out}.md`, renderMarkdown(report));
say(`report: ${out}.json, ${out}.md`);
Deno.exit(0);
