import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import { Registry } from "@vigil/shared/metrics";
import type { Redis } from "@vigil/shared/redis";
import type { StreamUnit } from "@vigil/shared/partitions";
import type { Evaluator } from "../core/evaluator.ts";
import { registerUnitGauges } from "./metrics.ts";

/** A pipeline answering XLEN and XPENDING from `reply` (an Error is an error reply). */
function fakeRedis(reply: (op: string, key: string) => unknown) {
  return {
    pipeline() {
      const calls: [string, string][] = [];
      const p = {
        xlen(key: string) {
          calls.push(["xlen", key]);
          return p;
        },
        xpending(key: string) {
          calls.push(["xpending", key]);
          return p;
        },
        exec: () =>
          Promise.resolve(calls.map(([op, key]): [Error | null, unknown] => {
            const r = reply(op, key);
            return r instanceof Error ? [r, null] : [null, r];
          })),
      };
      return p;
    },
  } as unknown as Redis;
}

const unit = (partition: number): { unit: StreamUnit; pipeline: { evaluator: Evaluator } } => ({
  unit: { kind: "metrics", partition } as StreamUnit,
  pipeline: { evaluator: { stateStats: () => [] } as unknown as Evaluator },
});

Deno.test("the detector's stream gauges keep their last values when Redis answers with errors", async () => {
  const keys = createKeys("vigil:");
  let failing: Error | undefined;
  const redis = fakeRedis((op) => failing ?? (op === "xlen" ? 40 : [3, "0-1", "0-3", []]));
  const registry = new Registry();
  registerUnitGauges(registry, redis, keys, () => [unit(0), unit(1)]);
  const values = async (name: string) => {
    const text = await registry.render();
    return text.split("\n").filter((l) => l.startsWith(`${name}{`)).sort();
  };
  const expected = {
    vigil_detector_stream_length: [
      'vigil_detector_stream_length{type="metrics",partition="0"} 40',
      'vigil_detector_stream_length{type="metrics",partition="1"} 40',
    ],
    vigil_detector_pending: [
      'vigil_detector_pending{type="metrics",partition="0"} 3',
      'vigil_detector_pending{type="metrics",partition="1"} 3',
    ],
  };
  for (const [name, lines] of Object.entries(expected)) assert.deepEqual(await values(name), lines);
  // Redis down for longer than ioredis retries a command: every reply is an error.
  failing = new Error("Reached the max retries per request limit (which is 20)");
  // Before: every stream empty and nothing pending, as if the detector had caught up.
  for (const [name, lines] of Object.entries(expected)) assert.deepEqual(await values(name), lines);
  // A stream (or group) that does not exist yet holds nothing pending.
  failing = new Error(
    "NOGROUP No such key 'vigil:events:{metrics:0}' or consumer group 'detector'",
  );
  assert.deepEqual(await values("vigil_detector_pending"), [
    'vigil_detector_pending{type="metrics",partition="0"} 0',
    'vigil_detector_pending{type="metrics",partition="1"} 0',
  ]);
});
