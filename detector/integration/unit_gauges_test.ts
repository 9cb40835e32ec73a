import assert from "node:assert/strict";
import { Registry } from "@vigil/shared/metrics";
import { unitsFor } from "@vigil/shared/partitions";
import { withRedis } from "@vigil/tools/testing/redis";
import type { Evaluator } from "../core/evaluator.ts";
import { registerUnitGauges } from "../io/metrics.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The `partition` labels of `name`'s series in the exposition. */
function partitionsOf(text: string, name: string): string[] {
  return text.split("\n")
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => /partition="([^"]+)"/.exec(l)![1]!)
    .sort();
}

Deno.test(
  "registerUnitGauges() stops exporting the stream gauges of a unit once it moved to another instance",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const [a, b] = unitsFor(2).filter((u) => u.kind === "logs");
      for (const u of [a!, b!]) {
        await redis.xadd(keys.events(u.kind, u.partition), "*", "x", "1");
        await redis.xgroup("CREATE", keys.events(u.kind, u.partition), "detector", "0");
      }
      const evaluator = { stateStats: () => [] } as unknown as Evaluator;
      let owned = [a!, b!];
      const registry = new Registry();
      registerUnitGauges(
        registry,
        redis,
        keys,
        () => owned.map((unit) => ({ unit, pipeline: { evaluator } })),
      );
      let text = await registry.render();
      assert.deepEqual(partitionsOf(text, "vigil_detector_stream_length"), ["0", "1"]);
      assert.deepEqual(partitionsOf(text, "vigil_detector_pending"), ["0", "1"]);
      owned = [a!]; // logs:1's lease moved to another detector, which exports it now
      text = await registry.render();
      assert.deepEqual(partitionsOf(text, "vigil_detector_stream_length"), ["0"]);
      assert.deepEqual(partitionsOf(text, "vigil_detector_pending"), ["0"]);
    });
  },
);
