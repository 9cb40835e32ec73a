/** A Kafka whose logs start again (topic created again, another cluster): nothing skipped. */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { deletePrefix, type RedisTestContext, withRedis } from "@vigil/tools/testing/redis";
import { kafkaClusterId } from "@vigil/shared/kafka_cluster";
import { createLogger } from "@vigil/shared/log";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "@vigil/shared/metrics";
import { createBridge } from "../bridge.ts";
import {
  numberedLogs,
  produce,
  readAll,
  testKafka,
  type TopicMessage,
} from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A bridge over `redis` started against a cluster, its warn lines, and waits on its streams. */
function harness({ redis, keys }: RedisTestContext) {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    service: "bridge",
    level: "warn",
    write: (line) => lines.push(JSON.parse(line)),
  });
  const startBridge = (brokers: string[], metrics: Registry) => {
    const bridge = createBridge({
      kafka: testKafka(brokers),
      redis,
      keys,
      log,
      metrics,
      config: { topics: ["logs"] },
    });
    const controller = new AbortController();
    const running = bridge.run(controller.signal);
    return async () => {
      controller.abort();
      await running;
    };
  };
  const lengths = async () => [
    await redis.xlen(keys.events("logs")),
    await redis.xlen(keys.dlq()),
  ];
  const until = (events: number, dead: number) =>
    waitFor(async () => (await lengths()).join() === `${events},${dead}`, {
      timeoutMs: 30_000,
      what: `${events} events and ${dead} dead letters appended`,
    });
  const bad = (): TopicMessage => ({ topic: "logs", message: { key: "svc", value: "{" } });

  /** Run a bridge on `brokers` until the streams hold `events` and `dead`, then stop it. */
  const runUntil = async (brokers: string[], metrics: Registry, events: number, dead: number) => {
    const stop = startBridge(brokers, metrics);
    try {
      await until(events, dead);
    } finally {
      await stop();
    }
  };
  return { lines, startBridge, until, runUntil, bad };
}

Deno.test(
  "createBridge() appends a partition's new log from its start when Kafka's log ends below what it appended",
  opts,
  async () => {
    await withRedis(async (ctx) => {
      const { redis, keys } = ctx;
      const { lines, startBridge, until, runUntil, bad } = harness(ctx);
      // 1. The first cluster: offsets 0..58 valid, 59 a dead letter.
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
        await produce(testKafka(cluster.brokers), [...numberedLogs(0, 59), bad()], 60);
        await runUntil(cluster.brokers, new Registry(), 59, 1);
      });

      // 2. The topic created again (played by a second mock that the bridge is told is the
      //    same cluster): offsets start at 0 again. Its log first ends (25) below 59: a reset.
      //    Then it grows past 59 with a dead letter at offset 40, in a stream (the
      //    dead letters') the first batches of the new log did not reach: not skipped.
      const metrics = new Registry();
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
        const kafka = testKafka(cluster.brokers);
        const same = await kafkaClusterId(kafka, {
          signal: new AbortController().signal,
          log: silentLogger(),
        });
        await redis.set(keys.bridgeCluster(), same!);
        await produce(kafka, numberedLogs(1000, 25), 25);
        const stop = startBridge(cluster.brokers, metrics);
        try {
          await until(84, 1);
          await produce(
            kafka,
            [...numberedLogs(1025, 15), bad(), ...numberedLogs(1041, 34)],
            50,
          );
          await until(84 + 49, 2);
        } finally {
          await stop();
        }
      });

      const entries = await readAll(redis, keys);
      const events = entries.filter((e) => e.stream === keys.events("logs"));
      const expected = Array.from({ length: 75 }, (_, i) => [String(i), `n=${1000 + i}`])
        .filter(([offset]) => offset !== "40");
      assert.deepEqual(
        events.slice(59).map((e) => [e.fields.offset, JSON.parse(e.fields.data!).message]),
        expected,
      );
      const dead = entries.filter((e) => e.stream === keys.dlq()).map((e) => e.fields.offset);
      assert.deepEqual(dead, ["59", "40"]);
      const text = await metrics.render();
      assert.match(text, /vigil_bridge_log_resets_total\{topic="logs"\} 1\n/);
      assert.doesNotMatch(text, /vigil_bridge_duplicates_skipped_total [1-9]/);
      const warned = lines.filter((l) => /log ends below/.test(String(l.msg)));
      assert.equal(warned.length, 1, JSON.stringify(lines));
      assert.deepEqual(
        [warned[0]!.topic, warned[0]!.partition, warned[0]!.appended_up_to],
        ["logs", 0, "59"],
      );
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:0"), "74");
    });
  },
);

Deno.test(
  "createBridge() forgets the offsets of a Kafka cluster that another one replaced",
  opts,
  async () => {
    await withRedis(async (ctx) => {
      const { redis, keys } = ctx;
      const { lines, runUntil } = harness(ctx);
      const metrics = new Registry();
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
        await produce(testKafka(cluster.brokers), numberedLogs(0, 30), 30);
        await runUntil(cluster.brokers, new Registry(), 30, 0);
        // Another cluster, whose log is already past offset 29 when the bridge starts: its
        // high watermark cannot tell, the cluster id does. (The first one stays up: the mock
        // names a cluster after its address, which a cluster started later could reuse.)
        await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (other) => {
          await produce(testKafka(other.brokers), numberedLogs(1000, 100), 100);
          await runUntil(other.brokers, metrics, 130, 0);
        });
      });
      const events = (await readAll(redis, keys)).filter((e) => e.stream === keys.events("logs"));
      assert.deepEqual(
        events.slice(30).map((e) => e.fields.offset),
        Array.from({ length: 100 }, (_, i) => String(i)),
      );
      const text = await metrics.render();
      assert.match(text, /vigil_bridge_log_resets_total\{topic="logs"\} 1\n/);
      assert.doesNotMatch(text, /vigil_bridge_duplicates_skipped_total [1-9]/);
      assert.equal(lines.filter((l) => /another Kafka cluster/.test(String(l.msg))).length, 1);
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:0"), "99");
    });
  },
);

Deno.test(
  "createBridge() marks its Kafka cluster again after Redis lost its data, so a later replacement is still told",
  opts,
  async () => {
    await withRedis(async (ctx) => {
      const { redis, keys, prefix } = ctx;
      const { lines, startBridge, until, runUntil } = harness(ctx);
      const metrics = new Registry();
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
        await produce(testKafka(cluster.brokers), numberedLogs(0, 30), 30);
        const stop = startBridge(cluster.brokers, new Registry());
        try {
          await until(30, 0);
          // Redis loses everything while the bridge runs (restarted without persistence).
          await deletePrefix(redis, prefix);
          await produce(testKafka(cluster.brokers), numberedLogs(30, 10), 10);
          await until(10, 0);
          await waitFor(async () => (await redis.get(keys.bridgeCluster())) !== null, {
            timeoutMs: 15_000,
            what: "the cluster marked again",
          });
        } finally {
          await stop();
        }
        // Another cluster whose log is already past offset 39: only the mark can tell.
        await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (other) => {
          await produce(testKafka(other.brokers), numberedLogs(1000, 100), 100);
          await runUntil(other.brokers, metrics, 110, 0);
        });
      });
      const events = (await readAll(redis, keys)).filter((e) => e.stream === keys.events("logs"));
      assert.deepEqual(
        events.slice(10).map((e) => e.fields.offset),
        Array.from({ length: 100 }, (_, i) => String(i)),
      );
      assert.equal(lines.filter((l) => /another Kafka cluster/.test(String(l.msg))).length, 1);
    });
  },
);
