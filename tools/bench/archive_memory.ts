/**
 * `deno task bench:archive`: the raw archive's memory under a steady load.
 * Starts the mock Kafka in this process (`--brokers`, default 3, and
 * `--partitions` per topic, default 6, like `deno task kafka`), runs
 * `deno task archive` as a real process writing to a folder under ./data
 * (removed afterwards),
 * produces generator events at `--rate` per second (default 5000) for
 * `--duration` seconds (default 180), and samples the archive's RSS
 * (`/proc/<pid>/status`) every `--sample` seconds (default 5).
 *
 * Prints one line per sample and a JSON summary: RSS min/median/max over
 * the samples after the first flush interval (warm-up), and the messages
 * archived. Archive settings come from the environment as usual
 * (`ARCHIVE_FLUSH_MESSAGES`, `ARCHIVE_FLUSH_BYTES`, `ARCHIVE_FLUSH_INTERVAL`).
 *
 * @module
 */
import { Kafka, logLevel } from "kafkajs";
import { startMockKafka } from "../dev/kafka_mock.ts";
import { dropKafkajsTimeoutWarning } from "@vigil/shared/kafka";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { createGenerator } from "@vigil/producer/generator";
import { ROOT, taskArgs } from "../testing/services.ts";
import { sendGenerated } from "../testing/bridge.ts";
import { numberArg, print } from "./_cli.ts";
import { metricSum, rssOf, scrape } from "./proc_stats.ts";

const RATE = numberArg("rate", 5000);
const DURATION_S = numberArg("duration", 180);
const SAMPLE_S = numberArg("sample", 5);
const PARTITIONS = numberArg("partitions", 6);
const BROKERS = numberArg("brokers", 3);

/** Messages archived so far, from the archive's /metrics (NaN while it does not answer). */
async function archived(port: number): Promise<number> {
  const text = await scrape(port);
  return text ? metricSum(text, "vigil_archive_messages_total") : NaN;
}

dropKafkajsTimeoutWarning();
const cluster = startMockKafka({ brokers: BROKERS, partitions: PARTITIONS, topics: EVENT_TYPES });
const kafka = new Kafka({
  brokers: cluster.brokers,
  clientId: "bench",
  logLevel: logLevel.NOTHING,
});
// The archive task may write under ./data only.
const dir = `${ROOT}data/bench-archive-${crypto.randomUUID().slice(0, 8)}`;
const child = new Deno.Command(Deno.execPath(), {
  args: [...await taskArgs("archive")],
  cwd: ROOT,
  env: {
    KAFKA_BROKERS: cluster.bootstrap,
    ARCHIVE_DIR: dir,
    ARCHIVE_PORT: "0",
    LOG_LEVEL: "info",
  },
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let port = 0;
let flushIntervalMs = 60_000;
(async () => {
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    rest += value;
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const l of lines) {
      const m = /"msg":"ops server listening".*"port":(\d+)/.exec(l);
      if (m) port = Number(m[1]);
    }
  }
})();
const interval = Deno.env.get("ARCHIVE_FLUSH_INTERVAL");
if (interval && /^\d+$/.test(interval)) flushIntervalMs = Number(interval);
else if (interval) {
  const m = /^(\d+)(ms|s|m)$/.exec(interval);
  if (m) flushIntervalMs = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2]!] ?? 1);
}

const producer = kafka.producer();
await producer.connect();
const gen = createGenerator({ seed: 3 });
let sent = 0;
const samples: { t: number; rss: number }[] = [];
const started = performance.now();
const end = started + DURATION_S * 1000;
let nextSample = started + SAMPLE_S * 1000;
try {
  while (performance.now() < end) {
    const tick = performance.now();
    const due = Math.floor(((tick - started) / 1000) * RATE) - sent;
    if (due > 0) {
      const msgs = gen.normal(Date.now(), due);
      await sendGenerated(producer, msgs);
      sent += msgs.length;
    }
    if (tick >= nextSample) {
      nextSample += SAMPLE_S * 1000;
      const t = Math.round((tick - started) / 1000);
      const rss = rssOf(child.pid).rssMb;
      samples.push({ t, rss });
      print(
        `t=${t}s rss=${rss.toFixed(0)} MiB sent=${sent} archived=${await archived(port)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
} finally {
  await producer.disconnect();
}
const steady = samples.filter((s) => s.t * 1000 > flushIntervalMs).map((s) => s.rss).sort((
  a,
  b,
) => a - b);
const summary = {
  rate: RATE,
  duration_s: DURATION_S,
  partitions: EVENT_TYPES.length * PARTITIONS,
  sent,
  archived: await archived(port),
  flush_interval_ms: flushIntervalMs,
  samples_after_warmup: steady.length,
  rss_mib_min: Math.round(steady[0] ?? NaN),
  rss_mib_median: Math.round(steady[Math.floor(steady.length / 2)] ?? NaN),
  rss_mib_max: Math.round(steady[steady.length - 1] ?? NaN),
};
child.kill("SIGTERM");
await child.status;
await Deno.remove(dir, { recursive: true });
cluster.close();
print(JSON.stringify(summary));
Deno.exit(0);
