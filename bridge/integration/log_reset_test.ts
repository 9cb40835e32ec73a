/** A Kafka whose logs start again (topic created again, another cluster): nothing skipped. */
import assert from "node:assert/strict";
import { waitFor, withKafka } from "@vigil/tools/testing/kafka";
import { withRedis } from "@vigil/tools/testing/redis";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { createBridge } from "../bridge.ts";
import { numberedLogs, produce, readAll, testKafka } from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createBridge() appends a partition's new log from its start when Kafka's log ends below what it appended",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const lines: Record<string, unknown>[] = [];
      const log = createLogger({
        service: "bridge",
        level: "warn",
        write: (line) => lines.push(JSON.parse(line)),
      });
      const bridgeUntil = async (
        brokers: string[],
        metrics: Registry,
        done: () => Promise<boolean>,
      ) => {
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
        try {
          await waitFor(done, { timeoutMs: 30_000, what: "the log appended" });
        } finally {
          controller.abort();
          await running;
        }
      };
      const length = () => redis.xlen(keys.events("logs"));

      // 1. The first cluster: offsets 0..59 appended.
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
        await produce(testKafka(cluster.brokers), numberedLogs(0, 60), 60);
        await bridgeUntil(cluster.brokers, new Registry(), async () => (await length()) === 60);
      });

      // 2. Another cluster behind the bridge (a dev Kafka restarted, a topic created
      //    again): offsets start at 0 again, and its log ends (25) below 59.
      const metrics = new Registry();
      await withKafka({ brokers: 1, partitions: 1, topics: ["logs"] }, async (cluster) => {
        await produce(testKafka(cluster.brokers), numberedLogs(1000, 25), 25);
        await bridgeUntil(cluster.brokers, metrics, async () => (await length()) === 85);
      });

      const events = (await readAll(redis, keys)).filter((e) => e.stream === keys.events("logs"));
      assert.deepEqual(
        events.slice(60).map((e) => [e.fields.offset, JSON.parse(e.fields.data!).message]),
        Array.from({ length: 25 }, (_, i) => [String(i), `n=${1000 + i}`]),
      );
      const text = await metrics.render();
      assert.match(text, /vigil_bridge_log_resets_total\{topic="logs"\} [1-9]/);
      assert.doesNotMatch(text, /vigil_bridge_duplicates_skipped_total [1-9]/);
      const warned = lines.filter((l) => /log ends below/.test(String(l.msg)));
      assert.ok(warned.length >= 1, JSON.stringify(lines));
      assert.deepEqual(
        [warned[0]!.topic, warned[0]!.partition, warned[0]!.appended_up_to],
        ["logs", 0, "59"],
      );
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:0"), "24");
    });
  },
);
