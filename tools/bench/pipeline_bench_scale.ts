/**
 * `bench:pipeline --mode=scale`: the same labelled drain over `P` stream
 * partitions with 1 detector, then with `n` (settled on their share of the
 * partitions before the bridge starts): the CPU each instance spent per
 * event of the whole run falls ~1/n while the total stays the same work, and
 * the anomalies are still exactly the scenarios'. Then one of the `n` is
 * killed with SIGKILL: the takeover time is from the kill until every
 * partition is leased by a live instance again (bounded by
 * `DETECTOR_LEASE_TTL`, 10 s by default, `--lease-ttl`), and the pipeline still drains
 * events produced after the kill.
 *
 * @module
 */
import { createGenerator } from "@vigil/producer/generator";
import { kindsFor } from "@vigil/shared/partitions";
import { benchKafka, prefilledKafka, produceAll } from "./pipeline_bench_fill.ts";
import {
  checkAnomalies,
  leaseHolders,
  type RunOptions,
  startDetectors,
  waitDrained,
} from "./pipeline_bench_drain.ts";
import {
  cpuBetween,
  cpuSnapshot,
  createInstallation,
  type Installation,
} from "./pipeline_bench_procs.ts";

/** Settings of one scale run. */
export interface ScaleOptions extends RunOptions {
  events: number;
  /** Detector instances compared with one. */
  instances: number;
  /** `DETECTOR_LEASE_TTL` of the detectors. @default the detector's (10 s) */
  leaseTtlMs?: number;
}

/** One configuration (instance count) of a scale run. */
export interface ScaleConfig {
  instances: number;
  events: number;
  seconds: number;
  per_s: number;
  /** CPU seconds of each detector instance over the drain. */
  detector_cpu_s: number[];
  /** µs of CPU per event of the whole run, per instance. */
  cpu_us_per_event_per_instance: number[];
  /** µs of CPU per event, all instances together. */
  cpu_us_per_event_total: number;
  exact: boolean;
  /** Anomalies missing or unexpected (when not exact). */
  anomalies: { missing: string[]; unexpected: string[] };
  /** With several instances: SIGKILL of one until its partitions are leased again (ms). */
  takeover_ms?: number;
  /** ... and until events produced after the kill are all acknowledged (ms). */
  resumed_ms?: number;
  /** Partitions the killed instance held. */
  victim_partitions?: number;
  /** The detectors' warnings and errors (units moving, leases lost), first 20. */
  warnings: string[];
}

/** What one scale run measured. */
export interface ScaleResult {
  partitions: number;
  configs: ScaleConfig[];
}

async function runConfig(instances: number, options: ScaleOptions): Promise<ScaleConfig> {
  const { kafka, traffic, n } = await prefilledKafka(options.kafkaPartitions, options.events);
  let inst: Installation | undefined;
  try {
    inst = await createInstallation({ partitions: options.partitions, brokers: kafka.bootstrap });
    const ttl = options.leaseTtlMs;
    const detectors = await startDetectors(
      inst,
      instances,
      options.partitions,
      ttl ? { DETECTOR_LEASE_TTL: String(ttl) } : {},
    );
    await inst.start("bridge");
    let start = 0;
    let before = new Map<string, number>();
    const end = await waitDrained(inst, n, options.partitions, 600_000, () => {
      start = performance.now();
      before = cpuSnapshot(detectors);
    });
    const cpu = cpuBetween(before, cpuSnapshot(detectors));
    const perInstance = detectors.map((d) => cpu[d.name] ?? 0);
    const seconds = (end - start) / 1000;
    const total = perInstance.reduce((a, b) => a + b, 0);
    const config: ScaleConfig = {
      instances,
      events: n,
      seconds: Number(seconds.toFixed(2)),
      per_s: Math.round(n / seconds),
      detector_cpu_s: perInstance,
      cpu_us_per_event_per_instance: perInstance.map((c) => Number((c * 1e6 / n).toFixed(1))),
      cpu_us_per_event_total: Number((total * 1e6 / n).toFixed(1)),
      exact: false,
      anomalies: { missing: [], unexpected: [] },
      warnings: detectors.flatMap((d) =>
        d.lines().filter((l) => l.level === "warn" || l.level === "error").map((l) =>
          `${d.name}: ${l.msg}${l.unit ? ` ${l.unit}` : ""}${
            l.error ? ` (${JSON.stringify(l.error).slice(0, 120)})` : ""
          }`
        )
      ).slice(0, 20),
    };
    const found = await checkAnomalies(inst, traffic.expected);
    config.exact = found.exact;
    config.anomalies = { missing: found.missing, unexpected: found.unexpected };
    if (instances > 1) Object.assign(config, await takeover(inst, options, n));
    return config;
  } finally {
    await inst?.close();
    await kafka.proc.stop(5000);
  }
}

/** Kill the first detector with SIGKILL; time until its partitions are leased and work resumes. */
async function takeover(
  inst: Installation,
  options: ScaleOptions,
  drained: number,
): Promise<{ takeover_ms: number; resumed_ms: number; victim_partitions: number }> {
  const victim = inst.procs.get("detector-1")!;
  const member = `bench-${inst.id}-1`;
  const units = kindsFor(options.partitions).length * options.partitions;
  const held = (await leaseHolders(inst, options.partitions)).filter((h) => h === member).length;
  if (held === 0) options.say?.(`the instance killed held no partition any more (moved meanwhile)`);
  const killed = performance.now();
  await victim.kill("SIGKILL");
  inst.procs.delete(victim.name);
  // Events for every partition, the victim's included, produced right after the kill.
  const more = createGenerator({ seed: 7 }).normal(Date.now(), 2000);
  await produceAll(benchKafka(inst.env().KAFKA_BROKERS!), more);
  let takeoverMs = 0;
  for (;;) {
    const holders = await leaseHolders(inst, options.partitions);
    if (holders.every((h) => h !== null && h !== member) && holders.length === units) {
      takeoverMs = Math.round(performance.now() - killed);
      break;
    }
    if (performance.now() - killed > 120_000) throw new Error("Cannot see the takeover in 120 s");
    await new Promise((r) => setTimeout(r, 25));
  }
  const resumed = await waitDrained(inst, drained + more.length, options.partitions, 120_000);
  return {
    takeover_ms: takeoverMs,
    resumed_ms: Math.round(resumed - killed),
    victim_partitions: held,
  };
}

/** 1 detector, then `instances`, each from a fresh dev Kafka and installation. */
export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const configs: ScaleConfig[] = [];
  for (const n of [1, options.instances]) {
    const c = await runConfig(n, options);
    options.say?.(
      `${n} detector(s): ${c.per_s} events/s, CPU µs/event per instance ` +
        `${c.cpu_us_per_event_per_instance.join(", ")} (total ${c.cpu_us_per_event_total})` +
        (c.takeover_ms === undefined
          ? ""
          : `, takeover ${c.takeover_ms} ms, resumed ${c.resumed_ms} ms`) +
        `, exact: ${c.exact}`,
    );
    configs.push(c);
  }
  return { partitions: options.partitions, configs };
}
