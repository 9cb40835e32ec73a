/**
 * End to end: the producer's generator → dev Kafka (in-process mock) → the
 * real bridge → the detector (real rules and statistical engine) →
 * PostgreSQL + the alerts stream.
 */
import assert from "node:assert/strict";
import { Kafka, logLevel, type Message } from "kafkajs";
import type { Redis } from "@vigil/shared/redis";
import { withRedis, type WithRedisTarget } from "@vigil/tools/testing/redis";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { unitsFor } from "@vigil/shared/partitions";
import { withPg } from "@vigil/tools/testing/pg";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import type { Keys } from "@vigil/shared/keys";
import { EVENT_TYPES, type EventType } from "@vigil/shared/schemas/event";
import { fieldsToObject } from "@vigil/shared/schemas/stream";
import { createBridge } from "@vigil/bridge/bridge";
import { createGenerator } from "@vigil/producer/generator";
import {
  type ProducedMessage,
  SCENARIOS,
  STATISTICAL_SCENARIOS,
} from "@vigil/producer/scenario_types";
import { createStatsEngine, type ScoreEngine } from "../core/score_engine.ts";
import { readAlerts, readRows, startDetector } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

async function produce(brokers: string[], messages: readonly ProducedMessage[]): Promise<void> {
  const kafka = new Kafka({ brokers, clientId: "e2e", logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      const byTopic = new Map<string, Message[]>();
      for (const m of messages.slice(i, i + 1000)) {
        const list = byTopic.get(m.topic) ?? [];
        list.push({ key: m.key, value: m.value, headers: m.headers });
        byTopic.set(m.topic, list);
      }
      await producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every stream entry (of every partition) delivered to the detector group and acknowledged. */
async function drained(
  redis: Redis,
  keys: Keys,
  total: number,
  partitions: number,
): Promise<boolean> {
  let seen = 0;
  for (const { kind, partition } of unitsFor(partitions)) {
    const stream = keys.events(kind, partition);
    const len = await redis.xlen(stream);
    if (EVENT_TYPES.includes(kind as EventType)) seen += len;
    if (len === 0) continue;
    const lastId = (await redis.xrevrange(stream, "+", "-", "COUNT", 1))[0]?.[0];
    const groups = (await redis.xinfo("GROUPS", stream) as unknown[][]).map((g) =>
      fieldsToObject(g.map(String))
    );
    const g = groups.find((x) => x.name === "detector");
    if (!g || g["last-delivered-id"] !== lastId || g.pending !== "0") return false;
  }
  return seen >= total;
}

/**
 * Run the pipeline over `messages` and return the rows and alerts when
 * everything is processed; on the test Redis (`withRedis`) or on a Redis
 * Cluster (`withRedisCluster`), with `partitions` stream partitions.
 */
async function pipeline(
  messages: ProducedMessage[],
  options: { redis?: WithRedisTarget; partitions?: number } = {},
) {
  const withTarget = options.redis ?? withRedis;
  const partitions = options.partitions ?? 1;
  return await withKafka(
    { brokers: 1, partitions: 3 },
    (cluster) =>
      withPg(({ sql }) =>
        withTarget(async ({ redis, keys, connection }) => {
          await produce(cluster.brokers, messages);
          const kafka = new Kafka({
            brokers: cluster.brokers,
            clientId: "e2e-bridge",
            logLevel: logLevel.NOTHING,
          });
          const bridge = createBridge({
            kafka,
            redis,
            keys,
            log: silentLogger(),
            metrics: new Registry(),
            config: { partitions },
          });
          const bridgeStop = new AbortController();
          const bridgeRun = bridge.run(bridgeStop.signal);
          const d = await startDetector({ sql, keys, redis, connection }, {
            engine: createStatsEngine() as ScoreEngine<unknown>,
            settings: { batchSize: 1000, partitions },
          });
          try {
            await waitFor(() => drained(redis, keys, messages.length, partitions), {
              timeoutMs: 45_000,
              what: `${messages.length} events through bridge and detector`,
            });
            await new Promise((r) => setTimeout(r, 300));
            // The publication record lands just after the acknowledgement.
            await waitFor(async () => (await readRows(sql)).every((r) => r.published), {
              what: "publication recorded",
            });
            return { rows: await readRows(sql), alerts: await readAlerts(redis, keys) };
          } finally {
            await d.stop();
            bridgeStop.abort();
            await bridgeRun.catch(() => {});
            await bridge.close();
          }
        })
      ),
  );
}

/** Normal traffic at 200 events/s of event time over `[from, to)`. */
function normal(
  gen: ReturnType<typeof createGenerator>,
  from: number,
  to: number,
): ProducedMessage[] {
  const out: ProducedMessage[] = [];
  for (let t = from; t < to; t += 1000) out.push(...gen.normal(t, 200));
  return out;
}

Deno.test("detector finds no anomaly in 2 minutes of normal traffic", opts, async () => {
  const gen = createGenerator({ seed: 11 });
  const now = Date.now();
  const messages = normal(gen, now - 120_000, now);
  const { rows, alerts } = await pipeline(messages);
  assert.deepEqual([...rows], []);
  assert.ok(messages.length >= 24_000);
  assert.deepEqual(alerts, []);
});

/** The labelled scenarios through the pipeline: exactly their anomalies, each once. */
async function scenarios(options: Parameters<typeof pipeline>[1] = {}): Promise<void> {
  {
    const gen = createGenerator({ seed: 12 });
    const now = Date.now();
    const messages = normal(gen, now - 60_000, now - 10_000);
    const expected = new Set<string>();
    SCENARIOS.forEach((name, i) => {
      const inj = gen.scenario(name, now - 9_000 + i * 500);
      messages.push(...inj.messages);
      for (const e of inj.expected) expected.add(`${e.rule}|${e.entity}|${e.severity}`);
    });
    messages.push(...normal(gen, now - 5_000, now));
    const { rows, alerts } = await pipeline(messages, options);
    const found = rows.map((r) => `${r.rule}|${r.entity}|${r.severity}`);
    assert.deepEqual(
      found.slice().sort(),
      [...expected].sort(),
      "exactly the expected anomalies, each once",
    );
    assert.ok(rows.every((r) => r.published));
    const firing = alerts.filter((a) => a.status === "firing");
    assert.equal(firing.length, rows.length, "each once in the alerts stream");
    assert.deepEqual(new Set(firing.map((a) => a.id)), new Set(rows.map((r) => r.id)));
    assert.ok(firing.every((a) => a.trace_id !== null), "trace ids carried from Kafka headers");
  }
}

Deno.test(
  "detector finds exactly the anomalies of every labelled scenario, once each",
  opts,
  () => scenarios(),
);

Deno.test(
  "on a 3-master Redis Cluster with 4 partitions, bridge and detector find exactly the scenarios' anomalies, once each",
  opts,
  () => scenarios({ redis: withRedisCluster, partitions: 4 }),
);

Deno.test(
  "detector raises the engine's alerts for the statistical scenarios, and none on an hour of normal traffic",
  opts,
  async () => {
    // One hour of normal traffic at 8 events/s: every service's series is past the
    // engine's 60-reading warm-up for 50 minutes (readings every 10 s), yet nothing fires.
    const gen = createGenerator({ seed: 13 });
    const now = Date.now();
    const messages: ProducedMessage[] = [];
    for (let t = now - 3_600_000; t < now - 10_000; t += 1000) messages.push(...gen.normal(t, 8));
    const metricReadings = messages.filter((m) => m.topic === "metrics").length;
    assert.ok(metricReadings >= 8 * 358, `${metricReadings} metric readings`);
    const expected = new Set<string>();
    STATISTICAL_SCENARIOS.forEach((name, i) => {
      const inj = gen.scenario(name, now - 9_000 + i * 500);
      messages.push(...inj.messages);
      for (const e of inj.expected) expected.add(`${e.rule}|${e.entity}|${e.severity}`);
    });
    assert.equal(expected.size, 2 * STATISTICAL_SCENARIOS.length);
    const { rows, alerts } = await pipeline(messages);
    const found = rows.map((r) => `${r.rule}|${r.entity}|${r.severity}`);
    assert.deepEqual(found.slice().sort(), [...expected].sort(), "exactly the engine's alerts");
    const firing = alerts.filter((a) => a.status === "firing");
    assert.equal(firing.length, rows.length);
    for (const a of firing) {
      assert.ok(["metric_score", "entity_score"].includes(a.rule), a.rule);
      assert.ok(a.message.length > 0);
    }
  },
);
