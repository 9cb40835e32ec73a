import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { withRedisCluster } from "@vigil/tools/testing/redis_cluster";
import { waitFor } from "@vigil/tools/testing/wait";
import type { Keys } from "@vigil/shared/keys";
import type { StreamUnit } from "@vigil/shared/partitions";
import type { Redis } from "@vigil/shared/redis";
import { createRedisCheckpointStore } from "../io/checkpoint.ts";

async function* chunksOf(parts: string[], failAfter = Infinity): AsyncGenerator<string> {
  for (let i = 0; i < parts.length; i++) {
    if (i >= failAfter) throw new Error("Cannot serialise: stopped mid-write");
    yield parts[i]!;
  }
}

function storeOf(
  redis: Redis,
  keys: Keys,
  unit: Pick<StreamUnit, "kind" | "partition">,
  member: string,
) {
  return createRedisCheckpointStore(redis, {
    key: keys.detectorState(unit),
    nextKey: keys.detectorStateNext(unit, member),
    leaseKey: keys.detectorLease(unit),
    member,
  });
}

Deno.test("createRedisCheckpointStore() saves a state in chunks and loads it whole", () =>
  withRedis(async ({ redis, keys }) => {
    const unit = { kind: "logs" as const, partition: 0 };
    const store = storeOf(redis, keys, unit, "m1");
    await redis.set(keys.detectorLease(unit), "m1");
    assert.equal(await store.load(), null);
    await store.save({ lastId: "1-0", chunks: chunksOf(['{"a":', "[1,2", ",3]}"]), savedAt: 5 });
    assert.deepEqual(await store.load(), { lastId: "1-0", state: '{"a":[1,2,3]}', savedAt: 5 });
    assert.equal(await redis.hget(keys.detectorState(unit), "chunks"), "3");
    assert.equal(
      await redis.exists(keys.detectorStateNext(unit, "m1")),
      0,
      "renamed over the checkpoint",
    );
    assert.equal(await redis.pttl(keys.detectorState(unit)), -1, "the write's expiry not kept");

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
    const store = storeOf(redis, keys, unit, "m1");
    assert.deepEqual(await store.load(), { lastId: "9-1", state: "{}", savedAt: 3 });
  }));

/** A takeover while the old owner is paused mid-write (see the tests below). */
async function staleWriter(redis: Redis, keys: Keys) {
  const unit = { kind: "logs" as const, partition: 1 };
  const stale = storeOf(redis, keys, unit, "a");
  const owner = storeOf(redis, keys, unit, "b");
  // "a" starts writing under its lease and stalls mid-write (cut off, paused) ...
  await redis.set(keys.detectorLease(unit), "a");
  let resume!: () => void;
  const paused = new Promise<void>((r) => resume = r);
  const staleWrite = stale.save({
    lastId: "1-0",
    chunks: (async function* () {
      yield '{"old":';
      await paused;
      yield "1}";
    })(),
    savedAt: 1,
  });
  await waitFor(async () => (await redis.exists(keys.detectorStateNext(unit, "a"))) === 1);
  assert.ok((await redis.pttl(keys.detectorStateNext(unit, "a"))) > 0, "a crashed write expires");
  // ... its lease expires, "b" takes the unit over and checkpoints, chunk by chunk.
  await redis.set(keys.detectorLease(unit), "b");
  await owner.save({ lastId: "5-0", chunks: chunksOf(['{"new":', "[1,2]", "}"]), savedAt: 5 });
  const newer = { lastId: "5-0", state: '{"new":[1,2]}', savedAt: 5 };
  assert.deepEqual(await owner.load(), newer);
  // "a" wakes up and finishes: refused, and nothing of it is left.
  resume();
  await assert.rejects(staleWrite, /lease is no longer this instance's/);
  assert.deepEqual(await owner.load(), newer);
  assert.equal(await redis.exists(keys.detectorStateNext(unit, "a")), 0);
  assert.equal(await redis.pttl(keys.detectorState(unit)), -1, "the checkpoint does not expire");
}

Deno.test("createRedisCheckpointStore(): an instance that lost the lease neither overwrites nor mixes into the new owner's checkpoint", () =>
  withRedis(({ redis, keys }) => staleWriter(redis, keys)));

Deno.test(
  "createRedisCheckpointStore() on a Redis Cluster: the same, its keys in one slot",
  { sanitizeOps: false, sanitizeResources: false },
  () => withRedisCluster(({ redis, keys }) => staleWriter(redis, keys)),
);
