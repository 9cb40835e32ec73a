/**
 * The bridge's progress record (`vigil:bridge:progress`, the last offset of
 * each Kafka partition it accounted for, for gap detection) moves with a
 * batch only when Redis took the whole batch.
 */
import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { createGroup, type Redis } from "@vigil/shared/redis";
import { GROUPS, type Keys } from "@vigil/shared/keys";
import { appendBatch, type BatchItem, buildAppendCalls, ioredisAppendPort } from "../append.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Six log events of logs/0 from offset `from` + 1 (every 4th), for a stream of MAXLEN 10. */
function sixEvents(keys: Keys, from: number) {
  const items = Array.from({ length: 6 }, (_, i): BatchItem => ({
    offset: String(from + i * 4 + 1),
    classified: {
      kind: "event",
      type: "logs",
      data: `{"n":${from + i * 4 + 1}}`,
      key: "k",
      traceparent: "",
      route: { entity: "svc", timestamp: "2025-01-01T00:00:00.000Z" },
    },
  }));
  return buildAppendCalls({ topic: "logs", partition: 0, items }, {
    keys,
    partitions: 1,
    maxlen: 10,
    ingestTs: 5,
  });
}

/** Read and acknowledge every new entry of `stream` as the detector's group. */
async function catchUp(redis: Redis, stream: string): Promise<void> {
  const read = await redis.xreadgroup(
    "GROUP",
    GROUPS.detector,
    "c",
    "COUNT",
    100,
    "STREAMS",
    stream,
    ">",
  ) as [string, [string, string[]][]][] | null;
  const ids = (read?.[0]?.[1] ?? []).map(([id]) => id);
  if (ids.length > 0) await redis.xack(stream, GROUPS.detector, ...ids);
}

Deno.test(
  "ioredisAppendPort() moves the progress record only when Redis took every call of the batch",
  opts,
  async () => {
    await withRedis(async ({ redis, keys }) => {
      const port = ioredisAppendPort(redis);
      const stream = keys.events("logs");
      await createGroup(redis, stream, GROUPS.detector);
      const progress = (value: string, previous: string | null = "21") => ({
        key: keys.bridgeProgress(),
        field: "logs:0",
        value,
        previous,
      });
      await appendBatch(port, sixEvents(keys, 0), progress("21", null));
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:0"), "21");
      // The stream is full: the batch 101..121 is refused, so the bridge has not accounted for it.
      // A progress past it would hide a gap if Kafka deleted these offsets before the retry.
      await assert.rejects(appendBatch(port, sixEvents(keys, 100), progress("121")), /FULL /);
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:0"), "21");
      // A partition never accounted for stays so.
      const other = { key: keys.bridgeProgress(), field: "logs:1", value: "121", previous: null };
      await assert.rejects(appendBatch(port, sixEvents(keys, 100), other), /FULL /);
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:1"), null);
      // Once the detector caught up, the retry moves it.
      await catchUp(redis, stream);
      assert.equal((await appendBatch(port, sixEvents(keys, 100), progress("121"))).appended, 6);
      assert.equal(await redis.hget(keys.bridgeProgress(), "logs:0"), "121");
    });
  },
);
