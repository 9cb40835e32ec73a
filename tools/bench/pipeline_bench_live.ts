/**
 * `bench:pipeline --mode=live`: every service of `up` (dev Kafka, bridge,
 * archive, detector, notifier, web) running, the producer (`deno task
 * producer`, with every scenario every 20 s) at a steady rate for the
 * duration; per rate, from a fresh installation, whether it was held: lag
 * (events produced but not yet acknowledged by the detector) never above
 * `maxLag` of events after a 10 s warm-up (a third of shorter runs) (the archive's: that plus its flush
 * interval, 5 s here), everything drained and archived within 35 s of the
 * producer's end, nothing skipped or dead-lettered.
 * Also ingest → alert p50/p99 (the detector's histogram) and the CPU seconds
 * per 1,000 events of each process over the steady part.
 *
 * @module
 */
import type { ServiceProcess } from "../testing/services.ts";
import { metricSum, scrape } from "./proc_stats.ts";
import { type RunOptions, startDetectors, streamProgress } from "./pipeline_bench_drain.ts";
import {
  cpuBetween,
  cpuSnapshot,
  createInstallation,
  type Installation,
  startDevKafka,
  waitForLines,
} from "./pipeline_bench_procs.ts";

/** The archive's flush interval in the live runs (seconds); its lag may be that much more. */
const ARCHIVE_FLUSH_S = 5;

/** Settings of one live run. */
export interface LiveOptions extends RunOptions {
  /** Rates tried in ascending order until one is not held. */
  rates: readonly number[];
  durationMs: number;
  /** Most lag allowed, as time at the rate. */
  maxLagMs: number;
  /** Services run with `--cpu-prof`. */
  profile?: readonly string[];
  /** The producer's `PRODUCER_LINGER_MS`. @default the producer's (5 ms) */
  lingerMs?: number;
}

/** One rate of a live run. */
export interface LiveStep {
  rate: number;
  held: boolean;
  /** Why not held. */
  reasons: string[];
  produced: number;
  /** Producer's achieved rate (events/s). */
  produced_per_s: number;
  max_lag: number;
  max_archive_lag: number;
  drained_after_s: number | null;
  skipped: number;
  dead_letters: number;
  /** Events per partition batch the bridge handled (small batches cost more per event). */
  bridge_events_per_batch: number;
  ingest_to_alert_ms: { p50: number | null; p99: number | null; count: number };
  /** CPU seconds per 1,000 events over the steady part, per process. */
  cpu_s_per_1000: Record<string, number>;
}

/** What one live run measured. */
export interface LiveResult {
  steps: LiveStep[];
  /** The highest rate held (0 when none). */
  highest_held: number;
}

/** A quantile (seconds → ms) of a Prometheus histogram, interpolated within its bucket. */
export function histogramQuantile(text: string, name: string, q: number): number | null {
  const buckets = new Map<number, number>();
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const le = m[1] === "+Inf" ? Infinity : Number(m[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
  }
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe * 1000;
      const within = count === prevCount ? 0 : (rank - prevCount) / (count - prevCount);
      return Number(((prevLe + (le - prevLe) * within) * 1000).toFixed(1));
    }
    prevLe = le;
    prevCount = count;
  }
  return null;
}

/** One rate from a fresh dev Kafka and installation. */
async function runStep(rate: number, options: LiveOptions): Promise<LiveStep> {
  const say = options.say ?? (() => {});
  const kafka = await startDevKafka({ partitions: options.kafkaPartitions });
  let inst: Installation | undefined;
  try {
    inst = await createInstallation({
      partitions: options.partitions,
      brokers: kafka.bootstrap,
      ...(options.profile ? { profile: options.profile } : {}),
    });
    await startDetectors(inst, 1, options.partitions);
    const ports = new Map<string, number>();
    for (const service of ["archive", "notifier", "web", "bridge"]) {
      // The archive writes an object per 50,000 messages or ARCHIVE_FLUSH_INTERVAL (60 s by
      // default): 5 s here, so a run of minutes sees it keep up or not.
      const env = service === "archive" ? { ARCHIVE_FLUSH_INTERVAL: `${ARCHIVE_FLUSH_S}s` } : {};
      const p = await inst.start(service, { env });
      ports.set(service, await p.opsPort(60_000));
    }
    ports.set("detector", await inst.procs.get("detector")!.opsPort());
    await waitForLines(inst.procs.get("bridge")!, (l) => l.msg === "consuming", 1, "the bridge");
    const seconds = options.durationMs / 1000;
    const producer: ServiceProcess = await inst.start("producer", {
      args: [
        "--rate",
        String(rate),
        "--duration",
        `${seconds}s`,
        "--scenario",
        "all",
        "--scenario-every",
        "10s",
      ],
      env: {
        PRODUCER_PORT: "0",
        ...(options.lingerMs !== undefined ? { PRODUCER_LINGER_MS: String(options.lingerMs) } : {}),
      },
    });
    const producerPort = await producer.opsPort(60_000);
    const procs = () => [...inst!.procs.values(), kafka.proc];
    const started = performance.now();
    // The first seconds (JIT, connections, first scenario's backfill) are not steady.
    const warmup = Math.min(10, seconds / 3);
    let produced = 0;
    let maxLag = 0;
    let maxArchiveLag = 0;
    let steady: { cpu: Map<string, number>; produced: number } | undefined;
    let last: { cpu: Map<string, number>; produced: number } | undefined;
    let exited = false;
    producer.status.then(() => (exited = true));
    while (!exited) {
      await new Promise((r) => setTimeout(r, 1000));
      const text = await scrape(producerPort);
      if (text) produced = metricSum(text, "vigil_producer_events_total");
      const progress = await streamProgress(inst.redis, inst.keys, options.partitions);
      const archived = metricSum(
        await scrape(ports.get("archive")!),
        "vigil_archive_messages_total",
      );
      const lag = produced - progress.appended + progress.behind;
      const elapsed = (performance.now() - started) / 1000;
      if (elapsed >= warmup) {
        maxLag = Math.max(maxLag, lag);
        maxArchiveLag = Math.max(maxArchiveLag, produced - archived);
        const cpu = cpuSnapshot(procs());
        // Only while every process runs (the producer may just have exited).
        if (cpu.has("producer")) {
          steady ??= { cpu, produced };
          last = { cpu, produced };
        }
      }
      if (Math.round(elapsed) % 30 === 0) say(`${rate}/s: ${Math.round(elapsed)} s, lag ${lag}`);
    }
    const status = await producer.status;
    const finalLine = producer.lines().find((l) => l.msg === "producer stopped");
    produced = Number(finalLine?.sent ?? produced);
    const endedAt = performance.now();
    let drainedAfter: number | null = null;
    while (performance.now() - endedAt < (30 + ARCHIVE_FLUSH_S) * 1000) {
      const p = await streamProgress(inst.redis, inst.keys, options.partitions);
      const archived = metricSum(
        await scrape(ports.get("archive")!),
        "vigil_archive_messages_total",
      );
      if (p.appended >= produced && p.settled && archived >= produced) {
        drainedAfter = Number(((performance.now() - endedAt) / 1000).toFixed(1));
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const bridgeText = await scrape(ports.get("bridge")!);
    const archiveText = await scrape(ports.get("archive")!);
    const detectorText = await scrape(ports.get("detector")!);
    const skipped = metricSum(bridgeText, "vigil_bridge_skipped_messages_total") +
      metricSum(archiveText, "vigil_archive_skipped_messages_total");
    const dead = metricSum(bridgeText, "vigil_bridge_dead_letters_total") +
      metricSum(detectorText, "vigil_detector_dead_letters_total");
    const hist = "vigil_detector_ingest_to_published_seconds";
    const steadyEvents = (last?.produced ?? 0) - (steady?.produced ?? 0);
    const cpu = steady && last ? cpuBetween(steady.cpu, last.cpu) : {};
    const limit = Math.max(1000, rate * options.maxLagMs / 1000);
    const reasons: string[] = [];
    const achieved = produced / seconds;
    if (status.code !== 0) reasons.push(`producer exited with ${status.code}`);
    if (achieved < 0.95 * rate) reasons.push(`producer sent only ${Math.round(achieved)}/s`);
    if (maxLag > limit) reasons.push(`lag reached ${maxLag} (> ${limit})`);
    const archiveLimit = limit + rate * ARCHIVE_FLUSH_S;
    if (maxArchiveLag > archiveLimit) {
      reasons.push(`archive lag reached ${maxArchiveLag} (> ${archiveLimit})`);
    }
    if (drainedAfter === null) reasons.push("not drained 35 s after the producer stopped");
    if (skipped > 0) reasons.push(`${skipped} skipped`);
    if (dead > 0) reasons.push(`${dead} dead letters`);
    return {
      rate,
      held: reasons.length === 0,
      reasons,
      produced,
      produced_per_s: Math.round(achieved),
      max_lag: maxLag,
      max_archive_lag: maxArchiveLag,
      drained_after_s: drainedAfter,
      skipped,
      dead_letters: dead,
      bridge_events_per_batch: Number(
        (produced / Math.max(1, metricSum(bridgeText, "vigil_bridge_batch_seconds_count")))
          .toFixed(1),
      ),
      ingest_to_alert_ms: {
        p50: histogramQuantile(detectorText, hist, 0.5),
        p99: histogramQuantile(detectorText, hist, 0.99),
        count: metricSum(detectorText, `${hist}_count`),
      },
      cpu_s_per_1000: Object.fromEntries(
        Object.entries(cpu).map((
          [k, v],
        ) => [k, steadyEvents ? Number((v * 1000 / steadyEvents).toFixed(3)) : 0]),
      ),
    };
  } finally {
    await inst?.close();
    await kafka.proc.stop(5000);
  }
}

/** Try each rate in ascending order until one is not held. */
export async function runLive(options: LiveOptions): Promise<LiveResult> {
  const steps: LiveStep[] = [];
  let highest = 0;
  for (const rate of options.rates) {
    const step = await runStep(rate, options);
    steps.push(step);
    options.say?.(
      `${rate}/s: ${step.held ? "held" : `not held (${step.reasons.join("; ")})`}, ` +
        `max lag ${step.max_lag}, ${step.bridge_events_per_batch} events per bridge batch, CPU s/1000 ${
          JSON.stringify(step.cpu_s_per_1000)
        }`,
    );
    if (!step.held) break;
    highest = rate;
  }
  return { steps, highest_held: highest };
}
