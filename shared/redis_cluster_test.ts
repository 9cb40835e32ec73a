import assert from "node:assert/strict";
import { clusterProblems, keySlot, pipelineBySlot } from "./redis_cluster.ts";

Deno.test("keySlot() gives the slots of the Redis Cluster specification", () => {
  assert.equal(keySlot("123456789"), 0x31c3); // the CRC16/XMODEM check value
  assert.equal(keySlot("foo"), 12182);
  assert.equal(keySlot("{user1000}.following"), keySlot("{user1000}.followers"));
  assert.equal(keySlot("vigil:events:{logs:3}"), keySlot("vigil:bridge:offsets:{logs:3}"));
  assert.equal(keySlot("a{}b"), keySlot("a{}b"), "an empty tag hashes the whole key");
  assert.notEqual(keySlot("a{}b"), keySlot(""));
  assert.equal(keySlot("x{tag}y{other}"), keySlot("tag"), "the first tag counts");
});

/** A fake pipeline that records which keys went together and answers with the key. */
function fakeClient(cluster: boolean) {
  const pipelines: string[][] = [];
  return {
    pipelines,
    isCluster: cluster,
    pipeline() {
      const keys: string[] = [];
      pipelines.push(keys);
      return {
        get(key: string) {
          keys.push(key);
        },
        exec: () =>
          Promise.resolve(
            keys.map((k): [Error | null, unknown] =>
              k === "bad" ? [new Error("no"), null] : [null, k]
            ),
          ),
      };
    },
  };
}

Deno.test("pipelineBySlot() sends one pipeline on a single server, one per slot on a cluster", async () => {
  const keys = ["a{1}", "b{2}", "c{1}", "bad"];
  for (const cluster of [false, true]) {
    const c = fakeClient(cluster);
    const replies = await pipelineBySlot(c, keys.map((key) => ({ key, add: (p) => p.get(key) })));
    assert.deepEqual(replies.map(([e, r]) => e ? e.message : r), ["a{1}", "b{2}", "c{1}", "no"]);
    if (!cluster) assert.deepEqual(c.pipelines, [keys]);
    else {
      assert.equal(c.pipelines.length, 3);
      for (const p of c.pipelines) assert.equal(new Set(p.map(keySlot)).size, 1, p.join());
    }
  }
  assert.deepEqual(await pipelineBySlot(fakeClient(true), []), []);
});

Deno.test("clusterProblems() names the masters that do not answer, fail, or see slots failing", async () => {
  const node = (port: number, reply: string | null | Error) => ({
    status: "ready",
    options: { host: "127.0.0.1", port },
    call: () =>
      reply instanceof Error
        ? Promise.reject(reply)
        : reply === null
        ? new Promise<unknown>(() => {})
        : Promise.resolve(reply),
  });
  const ok = "cluster_state:ok\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:0\r\n";
  assert.deepEqual(await clusterProblems([node(1, ok), node(2, ok)]), []);
  assert.deepEqual(
    await clusterProblems([
      node(1, "cluster_state:fail\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:5461\r\n"),
      node(2, null),
      node(3, new Error("Connection is closed.")),
      // a master down and not yet replaced: the others still say ok, its slots in PFAIL
      node(4, "cluster_state:ok\r\ncluster_slots_pfail:5461\r\ncluster_slots_fail:0\r\n"),
    ], 50),
    [
      "127.0.0.1:1: cluster_state:fail, cluster_slots_fail:5461",
      "127.0.0.1:2: no answer within 50 ms",
      "127.0.0.1:3: Connection is closed.",
      "127.0.0.1:4: cluster_slots_pfail:5461",
    ],
  );
});
