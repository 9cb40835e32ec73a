/**
 * Smoke test of `deno task bench:pipeline`, so it cannot rot: the drain and
 * scale modes with a few thousand events, the live mode for a few seconds,
 * run as the task runs them (real processes), and the report checked.
 */
import assert from "node:assert/strict";
import { ROOT } from "@vigil/tools/testing/services";

/** Run the bench with `args` and return its JSON report (its report files are removed). */
async function bench(args: string[]): Promise<Record<string, unknown>> {
  const out = `test-output/pipeline_bench_smoke_${crypto.randomUUID().slice(0, 8)}`;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "tools/bench/pipeline_bench.ts", `--out=${out}`, ...args],
    cwd: ROOT,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  const md = await Deno.readTextFile(`${ROOT}${out}.md`);
  assert.match(md, /^# Pipeline benchmark/);
  const report = JSON.parse(await Deno.readTextFile(`${ROOT}${out}.json`));
  await Deno.remove(`${ROOT}${out}.json`);
  await Deno.remove(`${ROOT}${out}.md`);
  return report;
}

Deno.test("bench:pipeline drain, scale and live run and report what they must", async () => {
  // Two invocations at once: each spends most of its time waiting for processes to start.
  await Promise.all([drainAndScale(), live()]);
});

async function drainAndScale(): Promise<void> {
  const report = await bench([
    "--mode=drain,scale",
    "--events=3000",
    "--runs=1",
    "--partitions=2",
    "--kafka-partitions=6",
    "--lease-ttl=3s",
  ]) as {
    drain: {
      runs: {
        events: number;
        per_s: number;
        ratio: number;
        exact: boolean;
        raw_kafkajs: { perS: number };
        raw_xadd: { perS: number };
        cpu_us_per_event: Record<string, number>;
      }[];
    };
    scale: {
      runs: {
        configs: {
          instances: number;
          cpu_us_per_event_per_instance: number[];
          takeover_ms?: number;
          resumed_ms?: number;
        }[];
      }[];
    };
  };
  const drain = report.drain.runs[0]!;
  assert.ok(drain.events >= 3000, `${drain.events} events`);
  assert.ok(drain.exact, "the anomalies found are exactly the scenarios'");
  assert.ok(drain.per_s > 0 && drain.raw_kafkajs.perS > 0 && drain.raw_xadd.perS > 0);
  assert.ok(drain.ratio > 0);
  for (const p of ["bridge", "detector"]) {
    assert.ok((drain.cpu_us_per_event[p] ?? 0) > 0, `CPU of ${p}`);
  }
  // The dev Kafka may spend less than one clock tick (10 ms) on a few thousand events.
  assert.ok("kafka" in drain.cpu_us_per_event);
  const [one, two] = report.scale.runs[0]!.configs;
  assert.equal(one!.instances, 1);
  assert.equal(two!.instances, 2);
  assert.equal(two!.cpu_us_per_event_per_instance.length, 2);
  assert.ok(two!.takeover_ms! >= 0 && two!.resumed_ms! >= two!.takeover_ms!);
}

async function live(): Promise<void> {
  const report = await bench([
    "--mode=live",
    "--rates=200",
    "--duration=8s",
    "--runs=1",
    "--kafka-partitions=6",
  ]) as {
    live: {
      runs: {
        highest_held: number;
        steps: { reasons: string[]; cpu_s_per_1000: Record<string, number> }[];
      }[];
    };
  };
  const run = report.live.runs[0]!;
  assert.equal(run.highest_held, 200, run.steps[0]!.reasons.join("; "));
  for (const p of ["bridge", "detector", "archive", "notifier", "web", "kafka"]) {
    assert.ok(p in run.steps[0]!.cpu_s_per_1000, `CPU of ${p}`);
  }
}
