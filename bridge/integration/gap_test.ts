import assert from "node:assert/strict";
import { waitFor } from "@vigil/tools/testing/kafka";
import { createLogger } from "@vigil/shared/log";
import { Registry } from "@vigil/shared/metrics";
import { deadLetterSchema } from "@vigil/shared/schemas/stream";
import { createBridge } from "../bridge.ts";
import {
  logBounds,
  numberedLogs,
  produce,
  readAll,
  withKafkaAndRedis,
} from "@vigil/tools/testing/bridge";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** `n` valid log events of about 1 KB each, numbered from `from`. */
const bigLogs = (from: number, n: number) => numberedLogs(from, n, 900);

/**
 * A bridge stopped while Kafka deletes messages it has not read, then
 * started again. `refuseEvents`: the first attempt to append the batch that
 * carries the gap fails on the event stream (its offsets hash is not a hash)
 * after the dead-letter stream took the gap, so the retry skips the gap.
 */
async function gapAfterRestart(refuseEvents: boolean) {
  await withKafkaAndRedis(
    { brokers: 1, partitions: 1, topics: ["logs"] },
    async ({ kafka, redis, keys }) => {
      const lines: Record<string, unknown>[] = [];
      const log = createLogger({
        service: "bridge",
        level: "warn",
        write: (line) => lines.push(JSON.parse(line)),
      });
      const start = (metrics: Registry) => {
        const bridge = createBridge({
          kafka,
          redis,
          keys,
          log,
          metrics,
          config: { topics: ["logs"], chunkSize: 100 },
        });
        const controller = new AbortController();
        const running = bridge.run(controller.signal);
        return {
          bridge,
          stop: async () => {
            controller.abort();
            await running;
          },
        };
      };

      // 1. 100 messages, bridged (high-water 99, offset 100 committed at shutdown).
      await produce(kafka, bigLogs(0, 100), 100);
      const first = start(new Registry());
      try {
        await waitFor(async () => (await redis.xlen(keys.events("logs"))) === 100, {
          timeoutMs: 30_000,
          what: "the first 100 appended",
        });
      } finally {
        await first.stop();
      }

      // 2. While it is stopped, ~12 MB more to the one partition: the mock keeps ~5 MB.
      await produce(kafka, bigLogs(100, 12_000), 200);
      const { low, high } = await logBounds(kafka, "logs");
      assert.equal(high, 12_100);
      assert.ok(low > 100, `the mock deleted the oldest messages (log start ${low})`);

      // 3. Restarted: the deleted offsets 100..low-1 are one gap; low..high-1 are appended.
      const offsetsKey = keys.bridgeOffsets({ kind: "logs", partition: 0 });
      const saved = await redis.hgetall(offsetsKey);
      if (refuseEvents) await redis.set(offsetsKey, "not a hash"); // the script's HGET fails
      const metrics = new Registry();
      const second = start(metrics);
      try {
        if (refuseEvents) {
          await waitFor(async () => (await redis.xlen(keys.dlq())) === 1, {
            timeoutMs: 30_000,
            what: "the gap written by the attempt the event stream refused",
          });
          assert.equal(await redis.xlen(keys.events("logs")), 100, "no event appended yet");
          await redis.multi().del(offsetsKey).hset(offsetsKey, saved).exec();
        }
        await waitFor(
          async () => (await redis.xlen(keys.events("logs"))) === 100 + high - low,
          { timeoutMs: 60_000, what: "every retained message appended" },
        );
        // The gap is recorded after its batch's append returns: wait for it, not a fixed time.
        const gapsHealth = () => second.bridge.checks.kafka_gaps!();
        await waitFor(async () => {
          const h = await gapsHealth();
          return typeof h === "object" && h.status === "warn";
        }, { timeoutMs: 30_000, what: "the kafka_gaps warning" });
        const health = await gapsHealth();
        assert.ok(typeof health === "object" && health.status === "warn", JSON.stringify(health));
        assert.equal(health.skipped_messages, low - 100);
      } finally {
        await second.stop();
      }

      const entries = await readAll(redis, keys);
      const events = entries.filter((e) => e.stream === keys.events("logs"));
      const offsets = events.map((e) => Number(e.fields.offset));
      assert.deepEqual(offsets, [
        ...Array.from({ length: 100 }, (_, i) => i),
        ...Array.from({ length: high - low }, (_, i) => low + i),
      ]);
      const dead = entries.filter((e) => e.stream === keys.dlq());
      assert.equal(dead.length, 1, "one gap entry, nothing else");
      const gap = deadLetterSchema.parse(dead[0]!.fields);
      assert.equal(gap.source, "bridge");
      assert.match(gap.reason, /^gap: /);
      assert.deepEqual(
        [gap.topic, gap.partition, gap.from, gap.to, gap.count],
        ["logs", 0, "100", String(low - 1), low - 100],
      );
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:0"), String(high - 1));
      const text = await metrics.render();
      assert.match(
        text,
        new RegExp(`vigil_bridge_skipped_messages_total\\{topic="logs"\\} ${low - 100}\\n`),
      );
      // The gap is a dead letter of its own kind, counted once (the one written).
      assert.match(text, /\nvigil_bridge_dead_letters_total\{topic="logs",reason_kind="gap"\} 1\n/);
      assert.equal(
        text.match(/^vigil_bridge_dead_letters_total\{/gm)?.length,
        1,
        "no other dead letter counted",
      );
      if (refuseEvents) {
        assert.match(text, /\nvigil_bridge_redis_errors_total [1-9]\d*\n/, "the refused attempts");
      }
      const errors = lines.filter((l) => l.level === "error" && /lost/.test(String(l.msg)));
      assert.equal(errors.length, 1);
      assert.deepEqual(
        [
          errors[0]!.topic,
          errors[0]!.partition,
          errors[0]!.from,
          errors[0]!.to,
          errors[0]!.count,
        ],
        ["logs", 0, "100", String(low - 1), low - 100],
      );
    },
  );
}

Deno.test(
  "createBridge() records offsets Kafka deleted while it was stopped as one exact gap, and appends the rest once",
  opts,
  () => gapAfterRestart(false),
);

Deno.test(
  "createBridge() records and counts a gap once when the first attempt of its batch failed after writing it",
  opts,
  () => gapAfterRestart(true),
);
