/**
 * `bench:pipeline --mode=drain`: N labelled producer events prefilled into the
 * dev Kafka, the raw rates measured on them, then the detector (and any
 * `--with` service) started, then the bridge; events/s from the first entry
 * appended to the last one acknowledged by the detector group, the CPU each
 * process spent meanwhile, and the anomalies found against the scenarios'.
 *
 * @module
 */
import type { Keys } from "@vigil/shared/keys";
import { kindsFor } from "@vigil/shared/partitions";
import type { Redis } from "@vigil/shared/redis";
import { GROUPS } from "@vigil/shared/keys";
import { prefilledKafka, rawConsume, type RawRate, rawXadd } from "./pipeline_bench_fill.ts";
import {
  cpuBetween,
  cpuSnapshot,
  createInstallation,
  type Installation,
  localRedisProcess,
  waitForLines,
} from "./pipeline_bench_procs.ts";

/** Settings of one run of every mode (drain, live, scale). */
export interface RunOptions {
  /** `VIGIL_PARTITIONS`. */
  partitions: number;
  /** Kafka partitions per topic of the dev Kafka. */
  kafkaPartitions: number;
  /** Progress lines. */
  say?: (line: string) => void;
}

/** Settings of one drain run. */
export interface DrainOptions extends RunOptions {
  events: number;
  /** Detector instances. @default {1} */
  detectors?: number;
  /** Services started beside the bridge and the detector (archive, notifier, web). */
  with?: readonly string[];
  /** Services run with `--cpu-prof` (profiles in `test-output/profiles/`). */
  profile?: readonly string[];
  /** Give up after this long. @default {600000} */
  timeoutMs?: number;
}

/** What one drain run measured. */
export interface DrainResult {
  events: number;
  seconds: number;
  per_s: number;
  raw_kafkajs: RawRate;
  raw_xadd: RawRate;
  /** Pipeline events/s over the raw kafkajs consume rate. */
  ratio: number;
  /** CPU seconds per process between the first append and the last acknowledgement. */
  cpu_s: Record<string, number>;
  /** The same per event, in µs. */
  cpu_us_per_event: Record<string, number>;
  anomalies: { expected: number; found: number; missing: string[]; unexpected: string[] };
  exact: boolean;
}

/** Entries in every stream of the event kinds, and whether the group acknowledged them all. */
export async function streamProgress(
  redis: Redis,
  keys: Keys,
  partitions: number,
): Promise<{ appended: number; settled: boolean; behind: number }> {
  const streams: string[] = [];
  for (const kind of kindsFor(partitions)) {
    for (let p = 0; p < partitions; p++) streams.push(keys.events(kind, p));
  }
  const pipe = redis.pipeline();
  for (const s of streams) {
    pipe.xinfo("STREAM", s);
    pipe.xinfo("GROUPS", s);
  }
  const replies = (await pipe.exec()) ?? [];
  let appended = 0;
  let settled = true;
  let behind = 0;
  streams.forEach((stream, i) => {
    const [e1, info] = replies[2 * i] ?? [];
    const [e2, groups] = replies[2 * i + 1] ?? [];
    if (e1 || e2) {
      settled = false;
      return;
    }
    const s = pairs(info as unknown[]);
    // Events appended (cumulative, so trimming does not hide them); projections are only
    // counted in `behind`.
    if (!keys.parseEvents(stream)!.kind.includes("_by_")) appended += Number(s["entries-added"]);
    const g = (groups as unknown[][]).map(pairs).find((x) => x.name === GROUPS.detector);
    if (!g) {
      settled = false;
      return;
    }
    const lag = g.lag === null || g.lag === undefined ? Number(s.length) : Number(g.lag);
    behind += lag + Number(g.pending);
    if (
      Number(s.length) > 0 && (g["last-delivered-id"] !== s["last-generated-id"] ||
        Number(g.pending) !== 0)
    ) settled = false;
  });
  return { appended, settled, behind };
}

function pairs(list: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

/** Compare the anomalies stored with the expected ones (`rule|entity|severity`, each once). */
export async function checkAnomalies(
  inst: Installation,
  expected: readonly string[],
): Promise<DrainResult["anomalies"] & { exact: boolean }> {
  const rows = await inst.sql<{ rule: string; entity: string; severity: string }[]>`
    SELECT rule, entity, severity FROM anomaly_events`;
  const found = rows.map((r) => `${r.rule}|${r.entity}|${r.severity}`).sort();
  const want = new Set(expected);
  const missing = expected.filter((e) => !found.includes(e));
  const seen = new Set<string>();
  const unexpected = found.filter((f) => {
    const dup = seen.has(f);
    seen.add(f);
    return dup || !want.has(f);
  });
  return {
    expected: expected.length,
    found: found.length,
    missing,
    unexpected,
    exact: missing.length === 0 && unexpected.length === 0,
  };
}

/** Start `n` detectors and wait until they hold every partition between them. */
export async function startDetectors(
  inst: Installation,
  n: number,
  partitions: number,
  env: Record<string, string> = {},
) {
  const units = kindsFor(partitions).length * partitions;
  const procs = [];
  for (let i = 0; i < n; i++) {
    procs.push(
      await inst.start("detector", {
        name: n === 1 ? "detector" : `detector-${i + 1}`,
        env: { ...env, DETECTOR_MEMBER: `bench-${inst.id}-${i + 1}` },
      }),
    );
  }
  for (const p of procs) {
    await p.waitForLine((l) => l.msg === "detector running", "the detector running", 60_000);
  }
  // Settled: every lease held, by n distinct members.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const holders = await leaseHolders(inst, partitions);
    if (holders.filter(Boolean).length === units && new Set(holders).size === n) break;
    if (Date.now() > deadline) throw new Error(`Cannot settle ${n} detectors: ${holders}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return procs;
}

/** The member holding each unit's lease (null when free). */
export async function leaseHolders(inst: Installation, partitions: number) {
  const leases = [];
  for (const kind of kindsFor(partitions)) {
    for (let p = 0; p < partitions; p++) {
      leases.push(inst.keys.detectorLease({ kind, partition: p }));
    }
  }
  return await inst.redis.mget(...leases);
}

/** Wait until the detector group acknowledged all `events`; returns the time (performance.now). */
export async function waitDrained(
  inst: Installation,
  events: number,
  partitions: number,
  timeoutMs: number,
  onFirst?: () => void,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let first = false;
  for (;;) {
    const p = await streamProgress(inst.redis, inst.keys, partitions);
    if (!first && p.appended > 0) {
      first = true;
      onFirst?.();
    }
    if (p.appended >= events && p.settled) return performance.now();
    if (Date.now() > deadline) {
      throw new Error(`Cannot drain: ${p.appended}/${events} appended, ${p.behind} behind`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One drain run from a fresh dev Kafka and installation. */
export async function runDrain(options: DrainOptions): Promise<DrainResult> {
  const say = options.say ?? (() => {});
  const { kafka, traffic, client, n } = await prefilledKafka(
    options.kafkaPartitions,
    options.events,
  );
  let inst: Installation | undefined;
  try {
    say(
      `prefilled ${n} events (${traffic.scenarios} scenarios, ${traffic.expected.length} anomalies expected)`,
    );
    const rawKafkajs = await rawConsume(client, n);
    inst = await createInstallation({
      partitions: options.partitions,
      brokers: kafka.bootstrap,
      ...(options.profile ? { profile: options.profile } : {}),
    });
    const rawXaddRate = await rawXadd(inst.redis, inst.keys.scratch("rawxadd"), traffic.messages);
    say(`raw kafkajs consume + JSON.parse ${rawKafkajs.perS}/s, raw XADD ${rawXaddRate.perS}/s`);
    traffic.messages.length = 0;
    await startDetectors(inst, options.detectors ?? 1, options.partitions);
    for (const service of options.with ?? []) {
      const p = await inst.start(service);
      await p.opsPort(60_000);
    }
    const bridge = await inst.start("bridge");
    await waitForLines(bridge, (l) => l.msg === "consuming", 1, "the bridge consuming");
    const redisServer = await localRedisProcess(inst.redis);
    const procs = () => [...inst!.procs.values(), kafka.proc, ...redisServer];
    let start = 0;
    let before = new Map<string, number>();
    const end = await waitDrained(inst, n, options.partitions, options.timeoutMs ?? 600_000, () => {
      start = performance.now();
      before = cpuSnapshot(procs());
    });
    const cpu = cpuBetween(before, cpuSnapshot(procs()));
    const seconds = (end - start) / 1000;
    const anomalies = await checkAnomalies(inst, traffic.expected);
    const perS = Math.round(n / seconds);
    return {
      events: n,
      seconds: Number(seconds.toFixed(2)),
      per_s: perS,
      raw_kafkajs: rawKafkajs,
      raw_xadd: rawXaddRate,
      ratio: Number((perS / rawKafkajs.perS).toFixed(2)),
      cpu_s: cpu,
      cpu_us_per_event: Object.fromEntries(
        Object.entries(cpu).map(([k, v]) => [k, Number((v * 1e6 / n).toFixed(1))]),
      ),
      anomalies: {
        expected: anomalies.expected,
        found: anomalies.found,
        missing: anomalies.missing,
        unexpected: anomalies.unexpected,
      },
      exact: anomalies.exact,
    };
  } finally {
    await inst?.close();
    await kafka.proc.stop(5000);
  }
}
