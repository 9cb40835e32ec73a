import assert from "node:assert/strict";
import type { DrainResult } from "./pipeline_bench_drain.ts";
import type { LiveResult } from "./pipeline_bench_live.ts";
import { drainSummary, liveSummary, renderMarkdown } from "./pipeline_bench_summary.ts";

const machine = { cores: 2, loadavg: "1 2 3" };

Deno.test("renderMarkdown() writes each mode's measures and CPU per process", () => {
  const drainRuns = [1, 2].map((i) => ({
    events: 1000,
    per_s: 500 * i,
    raw_kafkajs: { perS: 9000, cpuUsPerMsg: 3 },
    raw_xadd: { perS: 20000 },
    ratio: 0.5,
    cpu_us_per_event: { bridge: 10 * i, detector: 20 },
    exact: true,
  })) as unknown as DrainResult[];
  const liveRuns = [{
    highest_held: 5000,
    steps: [{
      rate: 5000,
      held: true,
      reasons: [],
      max_lag: 10,
      drained_after_s: 3,
      ingest_to_alert_ms: { p50: 12, p99: 40 },
      cpu_s_per_1000: { bridge: 0.2 },
    }],
  }] as unknown as LiveResult[];
  const md = renderMarkdown({
    started: "s",
    args: ["--mode=drain,live"],
    machine,
    drain: { partitions: 1, with: "", runs: drainRuns, summary: drainSummary(drainRuns) },
    live: { partitions: 1, duration_ms: 5000, runs: liveRuns, summary: liveSummary(liveRuns) },
    finished: "f",
    machine_after: { cores: 2, loadavg: "4 5 6" },
  });
  const lines = md.split("\n");
  const at = (line: string) => lines.indexOf(line);
  assert.ok(
    md.startsWith("# Pipeline benchmark\n\n`deno task bench:pipeline --mode=drain,live`, s – f"),
  );
  assert.match(md, /load average 1 2 3 before and 4 5 6 after/);
  const drain = at("## Drain (1000 events, 1 partition(s))");
  assert.deepEqual(lines.slice(drain, drain + 17), [
    "## Drain (1000 events, 1 partition(s))",
    "",
    "| measure | value |",
    "| --- | --- |",
    "| bridge + detector, first append → last ack | 750 (500–1,000) events/s |",
    "| raw kafkajs consume + JSON.parse | 9,000 msg/s |",
    "| raw kafkajs CPU | 3 µs/msg |",
    "| raw pipelined XADD | 20,000 entries/s |",
    "| ratio pipeline / raw kafkajs | 0.5 |",
    "| anomalies exactly the scenarios' | yes, every run |",
    "",
    "| process | CPU µs per event |",
    "| --- | --- |",
    "| bridge | 15 (10–20) |",
    "| detector | 20 |",
    "",
    "## Live (5 s per rate, every service of `up`)",
  ]);
  const live = at("| process | CPU s per 1,000 events |");
  assert.equal(lines[live + 2], "| bridge | 0.2 |");
  assert.equal(lines[live + 4], "| run | rate | held | max lag | drained after | why not |");
  assert.equal(at("## Scale (1 partitions)"), -1);
});
