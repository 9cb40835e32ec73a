/**
 * `deno task bench:bridge`: messages/s from Kafka into Redis Streams through
 * the real bridge code, next to the two raw rates it is bounded by:
 * kafkajs consuming with no work (eachBatch) and pipelined XADD of the same
 * entries. Uses an in-process mock Kafka (`--brokers=B`, default 3 like the
 * dev cluster, partition leaders spread over them) and the local Redis under
 * a unique prefix, deleted afterwards.
 *
 * Options: `--messages=N` (default 300000), `--partitions=P` per topic
 * (default 16), `--concurrency=C` (default 4), `--sampled=R` (default 1): the
 * ratio of prefilled events whose `traceparent` is marked sampled, as a
 * traced producer under `OTEL_TRACES_SAMPLER=parentbased_traceidratio` and
 * `OTEL_TRACES_SAMPLER_ARG=R` does (the bridge then samples its own batch
 * spans with that ratio too).
 *
 * Tracing: in a process started with `OTEL_DENO=true` (Deno's built-in
 * OpenTelemetry, exporting to `OTEL_EXPORTER_OTLP_ENDPOINT`), the bridge
 * records a span per consumed batch, linked to its messages' contexts.
 *
 * `--tracing=compare [--rounds=R]` measures what tracing costs: after one
 * prefill and a warm-up run, R rounds (default 5) of two bridge runs each,
 * tracing off then on, and reports the medians and the cost in %. Deno's
 * OpenTelemetry is on or off for a whole process, so the runs share one
 * process started with `OTEL_DENO=true` (the bench starts itself again so
 * when it was not) and differ in whether the bridge is given the tracer.
 * Spans go to `OTEL_EXPORTER_OTLP_ENDPOINT` when set, else to a discarding
 * receiver that the first process serves while the second runs. Alternating
 * runs in one process see the same machine conditions, which separate
 * invocations on a shared machine do not.
 *
 * @module
 */
import { Kafka, logLevel, type Message } from "kafkajs";
import { entryFields } from "./stream_fill.ts";
import { cpuUsage } from "node:process";
import { startMockKafka } from "../dev/kafka_mock.ts";
import { dropKafkajsTimeoutWarning, topicMessages } from "@vigil/shared/kafka";
import { createKeys, GROUPS } from "@vigil/shared/keys";
import { silentLogger } from "../testing/log.ts";
import { Registry } from "@vigil/shared/metrics";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { createGroup, createRedis } from "@vigil/shared/redis";
import { deletePrefix, TEST_REDIS_URL } from "../testing/redis.ts";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { createGenerator } from "@vigil/producer/generator";
import { tracer, tracingEnabled } from "@vigil/shared/telemetry";
import { createBridge } from "@vigil/bridge/bridge";
import { args, numberArg, print } from "./_cli.ts";

const N = numberArg("messages", 300_000);
const PARTITIONS = numberArg("partitions", 16);
const CONCURRENCY = numberArg("concurrency", 4);
const SAMPLED = numberArg("sampled", 1);
const COMPARE = args.tracing === "compare";
const ROUNDS = numberArg("rounds", 5);

if (COMPARE && !tracingEnabled()) Deno.exit(await runTraced());

/**
 * Run this benchmark again in a process with Deno's OpenTelemetry on, exporting to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or, when unset, to a receiver served here that reads and
 * drops the export requests (as a collector in another process would take them).
 * @returns the exit code of the traced run
 */
async function runTraced(): Promise<number> {
  const received = { requests: 0, bytes: 0 };
  const endpoint = Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT");
  const receiver = endpoint ? undefined : Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (req) => {
    received.requests++;
    received.bytes += (await req.arrayBuffer()).byteLength;
    return new Response(null, { headers: { "content-type": "application/x-protobuf" } });
  });
  const sampler: Record<string, string> = SAMPLED < 1
    ? { OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: String(SAMPLED) }
    : {};
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(import.meta.url).pathname, ...Deno.args],
    env: {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: "bridge",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint ?? `http://127.0.0.1:${receiver!.addr.port}`,
      ...sampler,
    },
    stdin: "null",
  }).spawn();
  const { code } = await child.status;
  if (receiver) {
    await receiver.shutdown();
    print(
      `spans exported: ${received.requests} OTLP requests, ` +
        `${(received.bytes / 1e6).toFixed(1)} MB (protobuf)`,
    );
  }
  return code;
}

dropKafkajsTimeoutWarning();
const BROKERS = numberArg("brokers", 3);
const cluster = startMockKafka({ brokers: BROKERS, partitions: PARTITIONS, topics: EVENT_TYPES });
const kafka = new Kafka({
  brokers: cluster.brokers,
  clientId: "bench",
  logLevel: logLevel.NOTHING,
});
const redis = createRedis(TEST_REDIS_URL, { name: "bench" });
const prefix = `bench-${crypto.randomUUID().slice(0, 8)}:`;
const keys = createKeys(prefix);

/** Time from the first batch handed to eachBatch until `done()` is true. */
async function timeConsumer(
  start: (onFirstBatch: () => void) => Promise<() => Promise<void>>,
  done: () => boolean | Promise<boolean>,
): Promise<number> {
  let first = 0;
  const stop = await start(() => {
    if (!first) first = performance.now();
  });
  while (!(await done())) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - first) / 1000;
  await stop();
  return seconds;
}

interface BridgeRun {
  traced: boolean;
  perS: number;
  cpuUsPerMsg: number;
}

/** Run the bridge over all N messages into fresh keys; `traced` hands it the tracer. */
async function runBridge(index: number, traced: boolean): Promise<BridgeRun> {
  const runKeys = createKeys(`${prefix}run${index}:`);
  // The detector's group, as in a deployment: the append script checks what it has left.
  for (const type of EVENT_TYPES) {
    await createGroup(redis, runKeys.events(type), GROUPS.detector);
  }
  const metrics = new Registry();
  let onBridgeBatch = () => {};
  const bridge = createBridge({
    kafka: {
      consumer: (config) => {
        const c = kafka.consumer(config);
        c.on(c.events.START_BATCH_PROCESS, () => onBridgeBatch());
        return c;
      },
      admin: (config) => kafka.admin(config),
    },
    redis,
    keys: runKeys,
    log: silentLogger(),
    metrics,
    ...(traced ? { tracer } : {}),
    config: { groupId: `bench-bridge-${index}`, concurrency: CONCURRENCY },
  });
  const appended = metrics.counter("vigil_bridge_messages_total", "", ["type"]);
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  // CPU time of this process (bridge + in-process mock broker) during the bridge run: less
  // sensitive than msg/s to other processes competing for the cores.
  const cpuBefore = cpuUsage();
  const seconds = await timeConsumer(
    (onFirst) => {
      onBridgeBatch = onFirst;
      running = bridge.run(controller.signal);
      return Promise.resolve(async () => {
        controller.abort();
        await running;
      });
    },
    async () => (await sampleValue(appended)) >= N,
  );
  let total = 0;
  for (const type of EVENT_TYPES) total += await redis.xlen(runKeys.events(type));
  if (total !== N) {
    throw new Error(`Cannot trust the run: ${total} stream entries for ${N} messages`);
  }
  const cpu = cpuUsage(cpuBefore);
  await deletePrefix(redis, `${prefix}run${index}:`);
  return {
    traced,
    perS: Math.round(N / seconds),
    cpuUsPerMsg: Number(((cpu.user + cpu.system) / N).toFixed(2)),
  };
}

try {
  // 1. Pre-fill Kafka with realistic events (~100-200 bytes).
  const producer = kafka.producer();
  await producer.connect();
  const gen = createGenerator({ seed: 42 });
  const entries: string[][] = [];
  let bytes = 0;
  let t = Date.now() - 3_600_000;
  const perPartition = new Map<string, number>();
  for (let sent = 0; sent < N;) {
    const msgs = gen.normal(t += 10_000, Math.min(5000, N - sent));
    if (SAMPLED < 1) {
      // Head sampling: the events not drawn carry an unsampled context (flags 00).
      for (const m of msgs) {
        const tp = m.headers.traceparent;
        if (tp && !(Math.random() < SAMPLED)) m.headers.traceparent = tp.slice(0, 53) + "00";
      }
    }
    const out: { topic: string; message: Message }[] = [];
    for (const m of msgs) {
      const partition = Math.floor(Math.random() * PARTITIONS);
      out.push({
        topic: m.topic,
        message: { key: m.key, value: m.value, headers: m.headers, partition },
      });
      const pk = `${m.topic}:${partition}`;
      const offset = perPartition.get(pk) ?? 0;
      perPartition.set(pk, offset + 1);
      entries.push([m.topic, ...entryFields(m, { partition, offset, ingestTs: Date.now() })]);
      bytes += m.value.length;
    }
    await producer.sendBatch({
      topicMessages: topicMessages(out, (o) => o.topic, (o) => o.message),
    });
    sent += msgs.length;
  }
  await producer.disconnect();
  print(
    `prefilled ${N} messages (avg ${
      Math.round(bytes / N)
    } B) in ${EVENT_TYPES.length}×${PARTITIONS} partitions`,
  );

  // 2. Raw kafkajs consume rate: eachBatch, no work.
  let rawCount = 0;
  const rawSeconds = await timeConsumer(async (onFirst) => {
    const c = kafka.consumer({
      groupId: "bench-raw",
      maxBytes: 16 * 1024 * 1024,
      maxBytesPerPartition: 2 * 1024 * 1024,
      maxWaitTimeInMs: 500,
    });
    c.on(c.events.START_BATCH_PROCESS, onFirst);
    await c.connect();
    await c.subscribe({ topics: [...EVENT_TYPES], fromBeginning: true });
    await c.run({
      partitionsConsumedConcurrently: CONCURRENCY,
      eachBatch: ({ batch }) => {
        rawCount += batch.messages.length;
        return Promise.resolve();
      },
    });
    return () => c.disconnect();
  }, () => rawCount >= N);

  // 3. Raw pipelined XADD of the same entries (500 per pipeline, CONCURRENCY in flight).
  const xaddStart = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < entries.length) {
      const slice = entries.slice(next, next + 500);
      next += 500;
      const p = redis.pipeline();
      for (const [topic, ...fields] of slice) {
        p.xadd(keys.scratch("rawxadd", topic!), "MAXLEN", "~", "1000000", "*", ...fields);
      }
      await p.exec();
    }
  }));
  const xaddSeconds = (performance.now() - xaddStart) / 1000;
  // Let go of the copies (~N × 14 strings): a heap kept large by the harness would make
  // every garbage collection of the bridge runs, and so their figures, dearer than in the
  // real service.
  entries.length = 0;
  await deletePrefix(redis, keys.scratch("rawxadd"));

  // 4. Through the bridge: one run per tracing setting (alternating, when comparing), each
  // into fresh stream keys with a fresh consumer group reading all N messages.
  const raw = N / rawSeconds;
  const xadd = N / xaddSeconds;
  const traced = tracingEnabled();
  const plan: boolean[] = COMPARE
    ? Array.from({ length: 2 * ROUNDS }, (_, i) => i % 2 === 1)
    : [traced];
  const runs: BridgeRun[] = [];
  if (COMPARE) {
    // A first run, not counted, so that neither setting gets the cold JIT.
    const warm = await runBridge(plan.length, true);
    print(`warm-up run, tracing on: ${warm.perS} msg/s (not counted)`);
  }
  for (let i = 0; i < plan.length; i++) {
    const run = await runBridge(i, plan[i]!);
    runs.push(run);
    print(
      `bridge run ${i + 1}/${plan.length}, tracing ${run.traced ? "on" : "off"}: ` +
        `${run.perS} msg/s, ${run.cpuUsPerMsg} µs CPU/msg`,
    );
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const off = runs.filter((r) => !r.traced);
  const on = runs.filter((r) => r.traced);
  const main = COMPARE ? off : runs;
  const through = median(main.map((r) => r.perS));
  const result: Record<string, unknown> = {
    messages: N,
    partitions: EVENT_TYPES.length * PARTITIONS,
    concurrency: CONCURRENCY,
    kafkajs_consume_per_s: Math.round(raw),
    redis_xadd_pipelined_per_s: Math.round(xadd),
    bridge_per_s: Math.round(through),
    ratio_bridge_to_min_raw: Number((through / Math.min(raw, xadd)).toFixed(2)),
    bridge_cpu_us_per_msg: Number(median(main.map((r) => r.cpuUsPerMsg)).toFixed(2)),
    tracing: COMPARE ? "compare" : traced ? "on" : "off",
    sampled: SAMPLED,
  };
  print(`kafkajs consume (eachBatch, no work): ${result.kafkajs_consume_per_s} msg/s`);
  print(
    `redis XADD (pipelined 500, ${CONCURRENCY} in flight): ${result.redis_xadd_pipelined_per_s} msg/s`,
  );
  print(`bridge Kafka -> Redis Streams:         ${result.bridge_per_s} msg/s`);
  print(`ratio bridge / min(raw):               ${result.ratio_bridge_to_min_raw}`);
  print(`process CPU during the bridge run:     ${result.bridge_cpu_us_per_msg} µs/msg`);
  if (COMPARE) {
    const offPerS = median(off.map((r) => r.perS));
    const onPerS = median(on.map((r) => r.perS));
    Object.assign(result, {
      rounds: ROUNDS,
      tracing_off_per_s: off.map((r) => r.perS),
      tracing_on_per_s: on.map((r) => r.perS),
      tracing_off_median_per_s: Math.round(offPerS),
      tracing_on_median_per_s: Math.round(onPerS),
      tracing_cost_pct: Number((100 * (1 - onPerS / offPerS)).toFixed(1)),
      tracing_off_cpu_us_per_msg: Number(median(off.map((r) => r.cpuUsPerMsg)).toFixed(2)),
      tracing_on_cpu_us_per_msg: Number(median(on.map((r) => r.cpuUsPerMsg)).toFixed(2)),
    });
    print(
      `tracing cost (median of ${ROUNDS} alternating runs each): ${result.tracing_cost_pct}% ` +
        `(${result.tracing_off_median_per_s} -> ${result.tracing_on_median_per_s} msg/s)`,
    );
  } else {
    print(`tracing: ${result.tracing}`);
  }
  print(JSON.stringify(result));
} finally {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  cluster.close();
}
Deno.exit(0);
