/**
 * `deno task bench:memory`: the detector's memory under a steady load over
 * many distinct entities.
 *
 * Runs the real detector (`deno task detector`'s command line, its
 * `--v8-flags` included) against the local Redis and a fresh PostgreSQL
 * database; a worker thread appends traffic straight into the event streams
 * in the bridge's canonical form at a steady `--rate` (default 5,000
 * events/s) for `--duration` (default 10m) over a fixed population of
 * `--users` users and `--services` services with 3 metric series each
 * (default 98,000 + 500 + 1,500 = 100,000 entities; `entity_traffic.ts`).
 * Every `--sample` seconds (default 5) it records the detector's RSS and
 * peak RSS (`/proc/<pid>/status` VmRSS, VmHWM), its V8 heap and state
 * gauges (`/metrics`), its CPU time, the entries written and the group's
 * backlog. Writes `test-output/detector_memory.{json,md}` (`--out`) with
 * max/median RSS and the verdict against `--limit` (300 MB).
 *
 * Other options: `--env=NAME=value,…` (extra detector environment, e.g.
 * eviction settings), `--v8=FLAGS` (replaces the task's `--v8-flags`).
 *
 * @module
 */
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { benchDetectorEnv } from "./_detector_env.ts";
import { createKeys } from "@vigil/shared/keys";
import { migrate } from "@vigil/shared/migrate";
import { createRedis, type Redis } from "@vigil/shared/redis";
import { fieldsToObject } from "@vigil/shared/schemas/stream";
import { durationVar } from "@vigil/shared/config";
import { deletePrefix, TEST_REDIS_URL } from "../testing/redis.ts";
import { withPg } from "../testing/pg.ts";
import { ROOT, taskArgs } from "../testing/services.ts";
import { createEntityTraffic, userLoad } from "./entity_traffic.ts";
import { freePort } from "../testing/ports.ts";
import { waitFor } from "../testing/wait.ts";
import { cpuSecondsOf, heapOf, metricValues, rssOf, scrape, terminate } from "./proc_stats.ts";
import { args, numberArg, print } from "./_cli.ts";

const RATE = numberArg("rate", 5000);
/** `--duration`: `10m`, `90s`, or plain seconds. */
const DURATION_S = /^\d+$/.test(args.duration ?? "")
  ? Number(args.duration)
  : durationVar.parse(args.duration ?? "10m") / 1000;
const SAMPLE_S = numberArg("sample", 5);
const USERS = numberArg("users", 98_000);
const SERVICES = numberArg("services", 500);
const LIMIT_MB = numberArg("limit", 300);
const OUT = args.out ?? "test-output/detector_memory.json";
const EXTRA_ENV = Object.fromEntries(
  (args.env ? args.env.split(",") : []).map((kv) => {
    const [k, ...v] = kv.split("=");
    return [k!, v.join("=")];
  }),
);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

/** Entries not yet delivered to the detector group plus delivered and not acknowledged. */
async function backlogOf(redis: Redis, streams: readonly string[]): Promise<number> {
  let n = 0;
  for (const stream of streams) {
    const groups = (await redis.xinfo("GROUPS", stream).catch(() => [])) as unknown[][];
    const g = groups.map((x) => fieldsToObject(x.map(String))).find((x) => x.name === "detector");
    n += g ? Number(g.lag ?? 0) + Number(g.pending ?? 0) : 0;
  }
  return n;
}

/** One sample of the detector under load. */
interface Sample {
  t: number;
  rss_mb: number;
  peak_mb: number;
  heap_used_mb: number;
  heap_total_mb: number;
  /** Memory of ArrayBuffers and other objects outside the V8 heap (`nodejs_external_memory_bytes`). */
  external_mb: number;
  cpu_s: number;
  written: number;
  backlog: number;
  /** State entries per rule (`vigil_detector_state_entries`), when the detector reports them. */
  state: Record<string, number>;
}

const traffic = createEntityTraffic({ users: USERS, services: SERVICES });
const entities = traffic.entities;
const maxPerUser = {
  logs_3m: userLoad(RATE, 180_000, { users: USERS, services: SERVICES }).logs,
  transactions_5m: userLoad(RATE, 300_000, { users: USERS, services: SERVICES }).transactions,
};
const prefix = `bench-mem-${crypto.randomUUID().slice(0, 8)}:`;
const keys = createKeys(prefix);
const streams = EVENT_TYPES.map((t) => keys.events(t));
const probe = createRedis(TEST_REDIS_URL, { name: "bench-mem-probe" });

print(
  `detector memory: ${RATE} events/s for ${DURATION_S} s over ${entities.total} entities ` +
    `(${entities.users} users, ${entities.services} services, ${entities.series} metric series); ` +
    `at most ${maxPerUser.logs_3m} logs per user in 3 min, ${maxPerUser.transactions_5m} ` +
    `transactions in 5 min (normal traffic: no rule fires)`,
);

let stopChild = async () => {};
const result = await withPg(async ({ sql, url }) => {
  try {
    await migrate(sql);
    const port = freePort();
    const task = await taskArgs("detector");
    const runArgs = args.v8
      ? [...task.filter((a) => !a.startsWith("--v8-flags=")).slice(0, -1), `--v8-flags=${args.v8}`]
        .concat(task.at(-1)!)
      : task;
    const child = new Deno.Command(Deno.execPath(), {
      args: runArgs,
      cwd: ROOT,
      env: {
        ...benchDetectorEnv({ url, prefix, port, member: "bench-memory" }),
        ...EXTRA_ENV,
      },
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    stopChild = () => terminate(child);
    // Ready once /metrics answers (migrations applied, consumers starting).
    await waitFor(async () => (await scrape(port)) !== "", {
      timeoutMs: 60_000,
      what: "the detector's /metrics",
    });
    const startRss = rssOf(child.pid).rssMb;
    print(`detector pid ${child.pid}: ${runArgs.join(" ")}; RSS at start ${startRss} MB`);

    const worker = new Worker(new URL("./load_writer.ts", import.meta.url).href, {
      type: "module",
    });
    let written = 0;
    const done = new Promise<{ written: number; seconds: number; lateTicks: number }>(
      (resolve, reject) => {
        worker.onmessage = (e) => {
          if (typeof e.data.progress === "number") written = e.data.progress;
          else resolve(e.data);
        };
        worker.onerror = (e) => reject(e.error ?? new Error(e.message));
      },
    );
    worker.postMessage({
      url: TEST_REDIS_URL,
      prefix,
      rate: RATE,
      seconds: DURATION_S,
      users: USERS,
      share: 0,
      entities: { users: USERS, services: SERVICES },
      progressMs: 1000,
    });
    const samples: Sample[] = [];
    const started = performance.now();
    const cpu0 = cpuSecondsOf(child.pid);
    let finished: { written: number; seconds: number; lateTicks: number } | undefined;
    done.then((r) => (finished = r));
    while (finished === undefined) {
      await Promise.race([done, new Promise((r) => setTimeout(r, SAMPLE_S * 1000))]);
      if (finished !== undefined) break;
      const text = await scrape(port);
      const heap = heapOf(text);
      const mem = rssOf(child.pid);
      const state: Record<string, number> = {};
      for (const { labels, value } of metricValues(text, "vigil_detector_state_entries")) {
        const rule = /rule="([^"]+)"/.exec(labels)?.[1] ?? labels;
        state[rule] = (state[rule] ?? 0) + value;
      }
      const s: Sample = {
        t: Math.round((performance.now() - started) / 1000),
        rss_mb: mem.rssMb,
        peak_mb: mem.peakMb,
        heap_used_mb: heap.usedMb,
        heap_total_mb: heap.totalMb,
        external_mb: Math.round(
          (metricValues(text, "nodejs_external_memory_bytes")[0]?.value ?? NaN) / 1024 / 1024,
        ),
        cpu_s: Number((cpuSecondsOf(child.pid) - cpu0).toFixed(2)),
        written,
        backlog: await backlogOf(probe, streams),
        state,
      };
      samples.push(s);
      print(
        `t=${s.t}s rss=${s.rss_mb} MB (peak ${s.peak_mb}) heap=${s.heap_used_mb}/${s.heap_total_mb} MB ` +
          `external=${s.external_mb} MB ` +
          `cpu=${s.cpu_s}s written=${s.written} backlog=${s.backlog}` +
          (Object.keys(state).length ? ` state=${JSON.stringify(state)}` : ""),
      );
    }
    worker.terminate();
    const writer = finished!;
    // The detector must have kept up: everything delivered and acknowledged shortly after.
    let drainS = 0;
    while ((await backlogOf(probe, streams)) > 0 && drainS < 60) {
      await new Promise((r) => setTimeout(r, 500));
      drainS += 0.5;
    }
    const end = rssOf(child.pid);
    const cpu = cpuSecondsOf(child.pid) - cpu0;
    const anomalies = Number((await sql`SELECT count(*)::int AS n FROM anomaly_events`)[0]!.n);
    await stopChild();
    const rss = samples.map((s) => s.rss_mb);
    const heapUsed = samples.map((s) => s.heap_used_mb);
    return {
      date: new Date().toISOString(),
      command: `deno task bench:memory${Deno.args.length ? " " + Deno.args.join(" ") : ""}`,
      machine: { cpus: navigator.hardwareConcurrency, deno: Deno.version.deno },
      detector_args: runArgs,
      detector_env: EXTRA_ENV,
      load: {
        target_rate: RATE,
        achieved_rate: Math.round(writer.written / writer.seconds),
        written: writer.written,
        seconds: Number(writer.seconds.toFixed(1)),
        writer_late_ticks: writer.lateTicks,
        entities,
        max_events_per_user: maxPerUser,
        drained_after_s: drainS,
        anomalies,
      },
      detector: {
        cpu_seconds: Number(cpu.toFixed(1)),
        cpu_share: Number((cpu / writer.seconds).toFixed(3)),
        rss_mb_start: startRss,
        rss_mb_max: Math.max(...rss),
        rss_mb_median: median(rss),
        rss_mb_end: end.rssMb,
        peak_rss_mb: end.peakMb,
        heap_used_mb_max: Math.max(...heapUsed),
        heap_used_mb_median: median(heapUsed),
      },
      limit_mb: LIMIT_MB,
      samples,
    };
  } finally {
    await stopChild();
    await deletePrefix(probe, prefix).catch(() => {});
    probe.disconnect();
  }
});

const pass = result.detector.peak_rss_mb <= LIMIT_MB && result.load.drained_after_s < 60;
await Deno.mkdir(new URL(".", `file://${Deno.cwd()}/${OUT}`), { recursive: true });
await Deno.writeTextFile(OUT, JSON.stringify({ ...result, pass }, null, 2) + "\n");
const d = result.detector;
const l = result.load;
const md = [
  `# Detector memory (${result.date})`,
  "",
  `Command: \`${result.command}\`, ${result.machine.cpus} CPUs, Deno ${result.machine.deno}.`,
  `Detector: \`deno ${result.detector_args.join(" ")}\`` +
  (Object.keys(result.detector_env).length ? ` with ${JSON.stringify(result.detector_env)}` : "") +
  ".",
  "",
  `Load: ${l.achieved_rate} events/s achieved (target ${l.target_rate}) for ${l.seconds} s, ` +
  `${l.written} events over ${l.entities.total} entities (${l.entities.users} users, ` +
  `${l.entities.services} services, ${l.entities.series} metric series); backlog drained ` +
  `${l.drained_after_s} s after the writer stopped; ${l.anomalies} anomalies.`,
  "",
  "| measure | value |",
  "|---|---|",
  `| RSS max / median over ${result.samples.length} samples (every ${SAMPLE_S} s) | ${d.rss_mb_max} / ${d.rss_mb_median} MB |`,
  `| peak RSS (VmHWM) | ${d.peak_rss_mb} MB |`,
  `| RSS at start / at the end | ${d.rss_mb_start} / ${d.rss_mb_end} MB |`,
  `| V8 heap used max / median | ${d.heap_used_mb_max} / ${d.heap_used_mb_median} MB |`,
  `| detector CPU time | ${d.cpu_seconds} s (${Math.round(d.cpu_share * 100)} % of one core) |`,
  "",
  `Verdict: peak RSS ${d.peak_rss_mb} MB ${
    d.peak_rss_mb <= LIMIT_MB ? "≤" : ">"
  } ${LIMIT_MB} MB: **${pass ? "pass" : "fail"}**.`,
  "",
].join("\n");
await Deno.writeTextFile(OUT.replace(/\.json$/, "") + ".md", md);
print(md);
Deno.exit(pass ? 0 : 1);
