/**
 * `bench:pipeline` support: the labelled traffic a drain run prefills (the
 * producer's generator: normal traffic at 200 events/s of event time, where
 * by construction no rule fires, then every labelled scenario once), the
 * anomalies it must cause, and the two raw rates the pipeline is compared
 * with: kafkajs consuming the same messages (+ `JSON.parse`) and pipelined
 * XADD of the same entries.
 *
 * @module
 */
import { Kafka, logLevel } from "kafkajs";
import { cpuUsage } from "node:process";
import type { Redis } from "@vigil/shared/redis";
import { createGenerator } from "@vigil/producer/generator";
import { type ProducedMessage, SCENARIOS } from "@vigil/producer/scenario_types";
import { TOPICS } from "@vigil/shared/schemas/event";
import { startDevKafka } from "./pipeline_bench_procs.ts";
import { entryFields } from "./stream_fill.ts";
import { sendGenerated } from "../testing/bridge.ts";

/** Normal events per second of event time (the generator's guarantees hold at this rate). */
const NORMAL_RATE = 200;

/** What a drain run prefills and must find. */
export interface LabelledTraffic {
  messages: ProducedMessage[];
  /** `rule|entity|severity` of every anomaly the scenarios must cause, each once. */
  expected: string[];
  scenarios: number;
}

/**
 * About `n` labelled messages ending at `nowMs`: normal traffic, then each
 * scenario once, then 5 s of normal traffic.
 */
export function labelledTraffic(n: number, nowMs: number, seed = 42): LabelledTraffic {
  // More services than the generator's 8, so that the logs and metrics, keyed by service, spread
  // over most Kafka partitions: the dev Kafka keeps only 5 MiB per partition.
  const services = Array.from({ length: 48 }, (_, i) => `svc-${String(i).padStart(2, "0")}`);
  const gen = createGenerator({ seed, services });
  const injections = SCENARIOS.map((name, i) => gen.scenario(name, nowMs - 9_000 + i * 500));
  const scenarioMessages = injections.reduce((s, i) => s + i.messages.length, 0);
  const tail = 5 * NORMAL_RATE;
  const normalCount = Math.max(0, n - scenarioMessages - tail);
  const messages: ProducedMessage[] = [];
  const seconds = Math.ceil(normalCount / NORMAL_RATE);
  for (let s = 0; s < seconds; s++) {
    const t = nowMs - 10_000 - (seconds - s) * 1000;
    messages.push(...gen.normal(t, Math.min(NORMAL_RATE, normalCount - s * NORMAL_RATE)));
  }
  for (const inj of injections) messages.push(...inj.messages);
  for (let t = nowMs - 5_000; t < nowMs; t += 1000) messages.push(...gen.normal(t, NORMAL_RATE));
  const expected = new Set<string>();
  for (const inj of injections) {
    for (const e of inj.expected) expected.add(`${e.rule}|${e.entity}|${e.severity}`);
  }
  return { messages, expected: [...expected].sort(), scenarios: injections.length };
}

/** A quiet kafkajs client. */
export function benchKafka(bootstrap: string, clientId = "bench-pipeline"): Kafka {
  return new Kafka({ brokers: bootstrap.split(","), clientId, logLevel: logLevel.NOTHING });
}

/** Produce `messages` (keyed, with their headers) in batches of 5,000. */
export async function produceAll(
  kafka: Kafka,
  messages: readonly ProducedMessage[],
): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 5000) {
      const slice = messages.slice(i, i + 5000);
      await sendGenerated(producer, slice);
    }
  } finally {
    await producer.disconnect();
  }
}

/** A raw rate: per second of wall time, and the CPU this process spent per message. */
export interface RawRate {
  perS: number;
  cpuUsPerMsg: number;
}

/**
 * kafkajs consuming every message of the event topics from the start (a fresh
 * group, `eachBatch`, 4 partitions at a time like the bridge) and parsing each
 * value: from the first batch to the `n`-th message.
 */
export async function rawConsume(kafka: Kafka, n: number): Promise<RawRate> {
  const consumer = kafka.consumer({
    groupId: `bench-raw-${crypto.randomUUID().slice(0, 8)}`,
    maxBytes: 16 * 1024 * 1024,
    maxBytesPerPartition: 2 * 1024 * 1024,
    maxWaitTimeInMs: 500,
  });
  let count = 0;
  let first = 0;
  let cpu0 = cpuUsage();
  const done = Promise.withResolvers<number>();
  await consumer.connect();
  await consumer.subscribe({ topics: [...TOPICS], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 4,
    eachBatch: ({ batch }) => {
      if (!first) {
        first = performance.now();
        cpu0 = cpuUsage();
      }
      for (const m of batch.messages) if (m.value) JSON.parse(m.value.toString());
      count += batch.messages.length;
      if (count >= n) done.resolve(performance.now());
      return Promise.resolve();
    },
  });
  // Messages the dev Kafka dropped (5 MiB per partition) never come: stop when nothing moves.
  let seen = -1;
  const stalled = setInterval(() => {
    if (count === seen) {
      done.reject(
        new Error(
          `Cannot consume ${n} messages: ${count} came, the rest were dropped by the dev Kafka ` +
            `(5 MiB per partition): use more --kafka-partitions or fewer --events`,
        ),
      );
    }
    seen = count;
  }, 15_000);
  const end = await done.promise.finally(() => clearInterval(stalled));
  const cpu = cpuUsage(cpu0);
  await consumer.disconnect();
  return {
    perS: Math.round(n / ((end - first) / 1000)),
    cpuUsPerMsg: Number(((cpu.user + cpu.system) / n).toFixed(2)),
  };
}

/**
 * Pipelined XADD of entries shaped like the bridge's (the event, its Kafka
 * coordinates, key, ingest time and trace context) to `stream`: 500 per
 * pipeline, 4 in flight.
 */
export async function rawXadd(
  redis: Redis,
  stream: string,
  messages: readonly ProducedMessage[],
): Promise<RawRate> {
  const cpu0 = cpuUsage();
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < messages.length) {
      const from = next;
      next += 500;
      const p = redis.pipeline();
      for (let i = from; i < Math.min(from + 500, messages.length); i++) {
        const m = messages[i]!;
        p.xadd(stream, "*", ...entryFields(m, { partition: 0, offset: i, ingestTs: Date.now() }));
      }
      await p.exec();
    }
  }));
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuUsage(cpu0);
  await redis.del(stream);
  return {
    perS: Math.round(messages.length / seconds),
    cpuUsPerMsg: Number(((cpu.user + cpu.system) / messages.length).toFixed(2)),
  };
}

/**
 * A fresh dev Kafka (`kafkaPartitions` per topic) prefilled with `events`
 * labelled events; the caller stops `kafka.proc`.
 */
export async function prefilledKafka(kafkaPartitions: number, events: number) {
  const kafka = await startDevKafka({ partitions: kafkaPartitions });
  try {
    const traffic = labelledTraffic(events, Date.now());
    const client = benchKafka(kafka.bootstrap);
    await produceAll(client, traffic.messages);
    return { kafka, traffic, client, n: traffic.messages.length };
  } catch (error) {
    await kafka.proc.stop(3000);
    throw error;
  }
}
