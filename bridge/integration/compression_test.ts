/**
 * Topics written by a producer that compresses with snappy, LZ4 or zstd (a
 * Java or librdkafka producer with `compression.type` set) reach the streams
 * like any other: kafkajs reads only gzip by itself and stopped the bridge on
 * the first such batch ("LZ4 compression not implemented"), for ever.
 */
import assert from "node:assert/strict";
import { createKafka } from "@vigil/shared/kafka";
import { silentLogger } from "@vigil/tools/testing/log";
import { streamEntrySchema } from "@vigil/shared/schemas/stream";
import { withRunning } from "@vigil/tools/testing/wait";
import { waitFor } from "@vigil/tools/testing/kafka";
import { type Codec, produceWithLibrdkafka } from "@vigil/tools/testing/rdkafka_producer";
import { countAll, quietBridge, readAll, withKafkaAndRedis } from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };
const N = 300;
const T0 = Date.UTC(2025, 0, 1);
const PAD = "x".repeat(1500); // 300 × ~1.6 KB: several LZ4 blocks and snappy chunks per batch

/** What each topic is compressed with, and its n-th event. */
const TOPICS: {
  topic: "logs" | "metrics" | "transactions";
  codec: Codec;
  event(n: number): object;
}[] = [
  {
    topic: "logs",
    codec: "lz4",
    event: (n) => ({
      timestamp: new Date(T0 + n).toISOString(),
      service: "api",
      level: "INFO",
      message: `n=${n} ${PAD}`,
    }),
  },
  {
    topic: "metrics",
    codec: "zstd",
    event: (n) => ({
      timestamp: new Date(T0 + n).toISOString(),
      service: `svc-${n}-${PAD.slice(0, 100)}`,
      cpu: n % 100,
      latency_ms: n,
    }),
  },
  {
    topic: "transactions",
    codec: "snappy",
    event: (n) => ({
      timestamp: new Date(T0 + n).toISOString(),
      transaction_id: `t-${n}-${PAD.slice(0, 100)}`,
      user_id: "u1",
      amount: n + 1,
      currency: "EUR",
      status: "approved",
    }),
  },
];

Deno.test(
  "bridge: batches compressed with LZ4, zstd and snappy by librdkafka reach the streams, every message once and in order",
  opts,
  () =>
    withKafkaAndRedis({ brokers: 1, partitions: 1 }, async ({ cluster, redis, keys }) => {
      for (const t of TOPICS) {
        const messages = Array.from({ length: N }, (_, n) => ({
          key: "k",
          value: JSON.stringify(t.event(n)),
        }));
        produceWithLibrdkafka(cluster.bootstrap, t.topic, t.codec, messages);
      }
      // The services' own client factory: it is what registers the codecs.
      const kafka = createKafka({ brokers: cluster.brokers, clientId: "t", log: silentLogger() });
      const bridge = quietBridge({ kafka, redis, keys });
      await withRunning(bridge, async () => {
        await waitFor(async () => (await countAll(redis, keys)) >= 3 * N, {
          timeoutMs: 30_000,
          what: `${3 * N} compressed messages bridged`,
        });
      });
      const entries = await readAll(redis, keys);
      const dead = entries.filter((e) => e.stream === keys.dlq());
      assert.deepEqual(dead.slice(0, 1).map((e) => e.fields.reason), [], "no dead letter");
      for (const t of TOPICS) {
        const mine = entries.filter((e) => e.stream === keys.events(t.topic));
        assert.equal(mine.length, N, `${t.topic} (${t.codec})`);
        mine.forEach((e, n) => {
          const entry = streamEntrySchema.parse(e.fields);
          assert.equal(entry.offset, String(n), `${t.topic} (${t.codec}) offset`);
          assert.deepEqual(JSON.parse(entry.data), t.event(n), `${t.topic} (${t.codec}) #${n}`);
        });
      }
    }),
);
