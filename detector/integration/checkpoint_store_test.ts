import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { createRedisCheckpointStore } from "../io/checkpoint.ts";

async function* chunksOf(parts: string[], failAfter = Infinity): AsyncGenerator<string> {
  for (let i = 0; i < parts.length; i++) {
    if (i >= failAfter) throw new Error("Cannot serialise: stopped mid-write");
    yield parts[i]!;
  }
}

Deno.test("createRedisCheckpointStore() saves a state in chunks and loads it whole", () =>
  withRedis(async ({ redis, keys }) => {
    const unit = { kind: "logs" as const, partition: 0 };
    const store = createRedisCheckpointStore(redis, {
      key: keys.detectorState(unit),
      nextKey: keys.detectorStateNext(unit),
    });
    assert.equal(await store.load(), null);
    await store.save({ lastId: "1-0", chunks: chunksOf(['{"a":', "[1,2", ",3]}"]), savedAt: 5 });
    assert.deepEqual(await store.load(), { lastId: "1-0", state: '{"a":[1,2,3]}', savedAt: 5 });
    assert.equal(await redis.hget(keys.detectorState(unit), "chunks"), "3");
    assert.equal(
      await redis.exists(keys.detectorStateNext(unit)),
      0,
      "renamed over the checkpoint",
    );

    // A write that fails midway leaves the previous checkpoint whole.
    await assert.rejects(
      store.save({ lastId: "2-0", chunks: chunksOf(['{"b":', "1}"], 1), savedAt: 6 }),
      /stopped mid-write/,
    );
    assert.deepEqual(await store.load(), { lastId: "1-0", state: '{"a":[1,2,3]}', savedAt: 5 });
    // The next save starts over (no chunk of the failed one left behind).
    await store.save({ lastId: "3-0", chunks: chunksOf(["[]"]), savedAt: 7 });
    assert.deepEqual(await store.load(), { lastId: "3-0", state: "[]", savedAt: 7 });
    assert.equal(await redis.hget(keys.detectorState(unit), "state:1"), null);
  }));

Deno.test("createRedisCheckpointStore() loads a checkpoint written in one field", () =>
  withRedis(async ({ redis, keys }) => {
    const unit = { kind: "metrics" as const, partition: 0 };
    await redis.hset(keys.detectorState(unit), { last_id: "9-1", state: "{}", saved_at: "3" });
    const store = createRedisCheckpointStore(redis, {
      key: keys.detectorState(unit),
      nextKey: keys.detectorStateNext(unit),
    });
    assert.deepEqual(await store.load(), { lastId: "9-1", state: "{}", savedAt: 3 });
  }));
