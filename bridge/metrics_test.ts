import assert from "node:assert/strict";
import { createKeys } from "@vigil/shared/keys";
import { Registry } from "@vigil/shared/metrics";
import type { Redis } from "@vigil/shared/redis";
import { createBridgeMetrics } from "./metrics.ts";

/** A pipeline whose XLEN replies come from `reply` (an Error is an error reply). */
function fakeRedis(reply: (key: string) => number | Error) {
  return {
    pipeline() {
      const keys: string[] = [];
      const p = {
        xlen(key: string) {
          keys.push(key);
          return p;
        },
        exec: () =>
          Promise.resolve(keys.map((k): [Error | null, unknown] => {
            const r = reply(k);
            return r instanceof Error ? [r, null] : [null, r];
          })),
      };
      return p;
    },
  } as unknown as Pick<Redis, "pipeline">;
}

Deno.test("vigil_bridge_stream_length keeps a type's last length while Redis answers its XLEN with an error", async () => {
  const keys = createKeys("vigil:");
  let down = false;
  const redis = fakeRedis((key) =>
    down && key === keys.events("logs", 1)
      ? new Error("Reached the max retries per request limit (which is 20)")
      : 5
  );
  const registry = new Registry();
  const { streamLength } = createBridgeMetrics(registry, { redis, keys, partitions: 2 });
  const lengths = async () =>
    Object.fromEntries((await streamLength.get()).values.map((v) => [v.labels.type, v.value]));
  assert.deepEqual(await lengths(), { logs: 10, metrics: 10, transactions: 10 });
  down = true;
  // Before: logs fell to 5 (the partition in error counted as empty).
  assert.deepEqual(await lengths(), { logs: 10, metrics: 10, transactions: 10 });
});
