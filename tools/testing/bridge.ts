/**
 * Helpers shared by the bridge's integration tests: the Kafka and Redis
 * setup, message builders, background producing and the exactly-once check.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Kafka, Kafka as KafkaClient, logLevel, type Message, type Producer } from "kafkajs";
import { topicMessages } from "@vigil/shared/kafka";
import type { Redis } from "@vigil/shared/redis";
import type { Keys } from "@vigil/shared/keys";
import { EVENT_TYPES } from "@vigil/shared/schemas/event";
import { fieldsToObject } from "@vigil/shared/schemas/stream";
import { createGenerator } from "@vigil/producer/generator";
import { type ProducedMessage } from "@vigil/producer/scenario_types";
import { type Bridge, type BridgeOptions, createBridge } from "@vigil/bridge/bridge";
import { silentLogger } from "./log.ts";
import { Registry } from "@vigil/shared/metrics";
import type { MockKafkaCluster, MockKafkaOptions } from "../dev/kafka_mock.ts";
import { withKafka } from "./kafka.ts";
import { type RedisTestContext, withRedis } from "./redis.ts";

/** A quiet kafkajs client for tests. */
export function testKafka(brokers: string[]): Kafka {
  return new KafkaClient({
    brokers,
    clientId: "bridge-test",
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 30, maxRetryTime: 1000 },
  });
}

/**
 * Run `fn` with a fresh mock Kafka cluster (`options`), a Redis under a fresh
 * prefix (`withRedis`) and a quiet kafkajs client of that cluster: the setup
 * of every bridge integration test.
 */
export function withKafkaAndRedis<T>(
  options: MockKafkaOptions,
  fn: (ctx: RedisTestContext & { kafka: Kafka; cluster: MockKafkaCluster }) => Promise<T>,
): Promise<T> {
  return withKafka(
    options,
    (cluster) => withRedis((ctx) => fn({ ...ctx, kafka: testKafka(cluster.brokers), cluster })),
  );
}

/** A bridge over a test's Kafka and Redis that logs nothing (`metrics`: to read its counters). */
export function quietBridge(
  ctx: { kafka: Kafka; redis: Redis; keys: Keys },
  config: BridgeOptions = {},
  metrics: Registry = new Registry(),
): Bridge {
  const { kafka, redis, keys } = ctx;
  return createBridge({ kafka, redis, keys, log: silentLogger(), metrics, config });
}

/** A message to produce to a topic. */
export interface TopicMessage {
  topic: string;
  message: Message;
}

/** `n` valid messages from the producer's generator (event time advancing 10 s per 100). */
export function validMessages(n: number, seed = 1): TopicMessage[] {
  const gen = createGenerator({ seed });
  const out: TopicMessage[] = [];
  for (let t = Date.now() - 3_600_000; out.length < n; t += 10_000) {
    for (const m of gen.normal(t, Math.min(100, n - out.length))) {
      out.push({ topic: m.topic, message: { key: m.key, value: m.value, headers: m.headers } });
    }
  }
  return out;
}

/**
 * `n` valid `logs` events of service `svc`, numbered from `from` in their
 * message (`n=<number>`, then `pad` characters of padding), a millisecond apart.
 */
export function numberedLogs(from: number, n: number, pad = 0): TopicMessage[] {
  const padding = pad > 0 ? " " + "x".repeat(pad) : "";
  return Array.from({ length: n }, (_, i) => ({
    topic: "logs",
    message: {
      key: "svc",
      value: JSON.stringify({
        timestamp: new Date(Date.UTC(2025, 0, 1) + from + i).toISOString(),
        service: "svc",
        level: "INFO",
        message: `n=${from + i}${padding}`,
      }),
    },
  }));
}

/** The dead-letter reason kind each malformed message must get. */
export interface Malformed extends TopicMessage {
  expect: string;
}

/** `n` malformed messages (bad JSON, missing fields, wrong types, huge, binary, empty). */
export function malformedMessages(n: number, options: { tooLargeBytes: number }): Malformed[] {
  const out: Malformed[] = [];
  const ts = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const topic = EVENT_TYPES[i % 3]!;
    let value: string | Buffer | null;
    let expect: string;
    switch (i % 8) {
      case 0:
        value = `{"timestamp": "${ts}", "service": "x", `;
        expect = "invalid_json";
        break;
      case 1:
        value = JSON.stringify({ timestamp: ts });
        expect = "invalid_schema";
        break;
      case 2:
        value = JSON.stringify(
          topic === "logs"
            ? { timestamp: ts, service: "svc", level: 5, message: "m" }
            : topic === "metrics"
            ? { timestamp: ts, service: "svc", cpu: "high", latency_ms: 3 }
            : {
              timestamp: ts,
              transaction_id: "t",
              user_id: "u",
              amount: "12",
              currency: "EUR",
              status: "approved",
            },
        );
        expect = "invalid_schema";
        break;
      case 3:
        value = JSON.stringify({
          timestamp: ts,
          service: "s".repeat(20_000),
          level: "INFO",
          message: "m".repeat(20_000),
          cpu: 1,
          latency_ms: 1,
        });
        expect = "invalid_schema";
        break;
      case 4:
        value = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0xc3, 0x28, i & 0xff]);
        expect = "not_utf8";
        break;
      case 5:
        value = i % 16 === 5 ? null : "";
        expect = "empty";
        break;
      case 6:
        value = i % 48 === 6 ? "x".repeat(options.tooLargeBytes + 1) : "[1,2,3]";
        expect = i % 48 === 6 ? "too_large" : "invalid_schema";
        break;
      default:
        value = "not json at all";
        expect = "invalid_json";
    }
    out.push({ topic, message: { key: `bad-${i}`, value }, expect });
  }
  return out;
}

/** Produce messages in order, in sends of up to `chunk` messages per topic. */
export async function produce(kafka: Kafka, messages: readonly TopicMessage[], chunk = 500) {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      await producer.sendBatch({
        topicMessages: topicMessages(
          messages.slice(i, i + chunk),
          (m) => m.topic,
          (m) => m.message,
        ),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Send generator messages (each to its topic, with its key and headers) in one batch. */
export async function sendGenerated(
  producer: Pick<Producer, "sendBatch">,
  messages: readonly ProducedMessage[],
): Promise<void> {
  await producer.sendBatch({
    topicMessages: topicMessages(messages, (m) => m.topic, (m) => ({
      key: m.key,
      value: m.value,
      headers: m.headers,
    })),
  });
}

/** Keep producing generator messages until `signal` aborts; resolves to the number sent. */
export async function produceUntil(
  kafka: Kafka,
  signal: AbortSignal,
  options: { batch?: number; pauseMs?: number; seed?: number } = {},
): Promise<number> {
  const producer = kafka.producer();
  await producer.connect();
  const gen = createGenerator({ seed: options.seed ?? 7 });
  let sent = 0;
  try {
    while (!signal.aborted) {
      const msgs = gen.normal(Date.now(), options.batch ?? 300);
      await sendGenerated(producer, msgs);
      sent += msgs.length;
      await new Promise((r) => setTimeout(r, options.pauseMs ?? 20));
    }
  } finally {
    await producer.disconnect();
  }
  return sent;
}

/** The log start (`low`) and end (`high`) of partition 0 of `topic` now. */
export async function logBounds(
  kafka: Kafka,
  topic: string,
): Promise<{ low: number; high: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const p = (await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0)!;
    return { low: Number(p.low), high: Number(p.high) };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Every Kafka offset written so far to `topics` (created empty by the test): `topic:partition:offset`
 * for 0..high-1. From 0, not from the log start: the dev Kafka keeps ~5 MB per partition and
 * deletes older messages (gap_test.ts relies on it), and a deleted message was still produced.
 */
export async function kafkaCoordinates(kafka: Kafka, topics: readonly string[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out: string[] = [];
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        for (let o = 0; o < Number(p.high); o++) {
          out.push(`${topic}:${p.partition}:${o}`);
        }
      }
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** An entry read back from an event stream or the dead-letter stream. */
export interface ReadEntry {
  stream: string;
  id: string;
  fields: Record<string, string>;
}

/** Every partition of the three event streams (not the projections), and the dead-letter stream. */
function bridgedStreams(keys: Keys, partitions: number): string[] {
  const out = EVENT_TYPES.flatMap((t) =>
    Array.from({ length: partitions }, (_, p) => keys.events(t, p))
  );
  return [...out, keys.dlq()];
}

/** Every entry of the three event streams (each of `partitions`) and the dead-letter stream. */
export async function readAll(redis: Redis, keys: Keys, partitions = 1): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  for (const stream of bridgedStreams(keys, partitions)) {
    let start = "-";
    for (;;) {
      const page = await redis.xrange(stream, start, "+", "COUNT", 5000);
      for (const [id, fields] of page) out.push({ stream, id, fields: fieldsToObject(fields) });
      if (page.length < 5000) break;
      start = "(" + page[page.length - 1]![0];
    }
  }
  return out;
}

/** Total entries in the event streams and the dead-letter stream. */
export async function countAll(redis: Redis, keys: Keys, partitions = 1): Promise<number> {
  let n = 0;
  for (const stream of bridgedStreams(keys, partitions)) {
    n += await redis.xlen(stream);
  }
  return n;
}

/** Assert every Kafka coordinate appears exactly once across the entries. */
export function assertExactlyOnce(entries: readonly ReadEntry[], expected: readonly string[]) {
  const seen = new Map<string, number>();
  for (const e of entries) {
    const c = `${e.fields.topic}:${e.fields.partition}:${e.fields.offset}`;
    seen.set(c, (seen.get(c) ?? 0) + 1);
  }
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([c]) => c);
  assert.deepEqual(duplicates.slice(0, 10), [], `duplicated coordinates (${duplicates.length})`);
  const missing = expected.filter((c) => !seen.has(c));
  assert.deepEqual(missing.slice(0, 10), [], `missing coordinates (${missing.length})`);
  const listed = new Set(expected);
  const extra = [...seen.keys()].filter((c) => !listed.has(c));
  assert.deepEqual(extra.slice(0, 10), [], `coordinates Kafka did not list (${extra.length})`);
  assert.equal(entries.length, expected.length, "entries = messages produced");
}
