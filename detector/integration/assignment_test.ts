/** The assignment of stream partitions to detector instances, against the real Redis. */
import assert from "node:assert/strict";
import { interceptCalls, withRedis } from "@vigil/tools/testing/redis";
import { waitFor } from "@vigil/tools/testing/wait";
import { createLogger } from "@vigil/shared/log";
import { leaseFence, runAssignment } from "../io/assignment.ts";
import { member as assignmentMember } from "./_assignment.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const units = ["logs:0", "logs:1", "metrics:0", "metrics:1"];

function member(
  redis: Parameters<typeof runAssignment>[0]["redis"],
  keys: { scratch(...p: string[]): string },
  id: string,
) {
  return assignmentMember(redis, keys, id, { units });
}

Deno.test(
  "runAssignment(): two members split the units, one leaving hands them over",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const a = member(redis, keys, "a");
      const b = member(redis, keys, "b");
      try {
        await waitFor(() => a.running.size === 2 && b.running.size === 2, { what: "split 2/2" });
        assert.deepEqual([...a.running, ...b.running].sort(), [...units].sort(), "each unit once");
        await a.stop(); // leaves cleanly: releases its leases
        await waitFor(() => b.running.size === 4, { what: "b owns everything" });
        assert.equal(await redis.zscore(keys.scratch("members"), "a"), null, "a left the members");
      } finally {
        await a.stop();
        await b.stop();
      }
    }),
);

Deno.test(
  "runAssignment(): a lease that expired with nobody holding it is re-acquired; another's is respected",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      // Another instance (not a member any more) still holds logs:0 for a while (5 s: longer than
      // a's start and first round take on a busy machine).
      await redis.set(keys.scratch("lease", "logs:0"), "ghost", "PX", 5000);
      const a = member(redis, keys, "a");
      try {
        await waitFor(() => a.running.size === 3, { what: "the free units" });
        assert.ok(!a.running.has("logs:0"), "not while another holds its lease");
        await waitFor(() => a.running.size === 4, {
          what: "logs:0 once its lease expired",
        });
        // Redis lost a lease (restarted empty): the holder takes it again and starts the unit
        // afresh (it cannot tell whether another instance held the lease meanwhile).
        await redis.del(keys.scratch("lease", "metrics:1"));
        // The lease is set in Redis a moment before the reply reaches a and it starts the unit.
        await waitFor(
          async () =>
            a.starts.filter((u) => u === "metrics:1").length >= 2 && a.running.size === 4 &&
            (await redis.get(keys.scratch("lease", "metrics:1"))) === "a",
          { what: "metrics:1's lease taken again by a and the unit started afresh" },
        );
        // Another instance takes a lease over: that unit stops here.
        await redis.set(keys.scratch("lease", "metrics:0"), "intruder", "PX", 10_000);
        await waitFor(() => !a.running.has("metrics:0"), {
          what: "metrics:0 stopped",
        });
      } finally {
        await a.stop();
      }
    }),
);

Deno.test(
  "runAssignment(): a unit that stopped by itself is started again while its lease is ours, not when another holds it",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const a = member(redis, keys, "a");
      try {
        await waitFor(() => a.running.size === 4, { what: "every unit" });
        // Its consumer ended on its own (an error): the lease is still a's.
        a.running.delete("logs:1");
        await waitFor(() => a.running.has("logs:1"), {
          what: "logs:1 started again",
        });
        assert.equal(a.starts.filter((u) => u === "logs:1").length, 2);
        // Lost at a batch's fence to another instance: stopped, and not started while that one holds it.
        await redis.set(keys.scratch("lease", "logs:0"), "intruder", "PX", 5000);
        a.running.delete("logs:0");
        // Two of a's rounds (every 200 ms; its heartbeat is a round's first step) have seen the
        // unit stopped, however busy the machine, while the intruder still holds the lease.
        const beat = async () => Number(await redis.zscore(keys.scratch("members"), "a"));
        const since = await beat();
        await new Promise((r) => setTimeout(r, 600));
        await waitFor(async () => (await beat()) >= since + 400, { what: "two rounds of a" });
        assert.ok(await redis.pttl(keys.scratch("lease", "logs:0")) > 0, "the intruder's lease");
        assert.ok(!a.running.has("logs:0"), "not while another holds its lease");
        // The intruder's lease expires: a takes the unit again and starts it afresh.
        await waitFor(() => a.running.has("logs:0"), { what: "logs:0 back" });
        assert.equal(await redis.get(keys.scratch("lease", "logs:0")), "a");
      } finally {
        await a.stop();
      }
    }),
);

Deno.test(
  "the lease fence says whether the lease expired or another instance holds it",
  opts,
  async () => {
    // A lone detector back from a Redis outage longer than the TTL said its batch was "left to
    // the lease holder", when there was none.
    await withRedis(async ({ redis, keys }) => {
      const key = keys.scratch("lease", "logs:0");
      const said: string[] = [];
      let lost = 0;
      const fence = leaseFence({
        redis,
        key,
        member: "a",
        ttlMs: 5000,
        log: createLogger({ service: "test", write: (line) => said.push(JSON.parse(line).msg) }),
        onLost: () => lost++,
      });
      const signal = new AbortController().signal;
      await redis.set(key, "a", "PX", 5000);
      await fence(signal);
      assert.ok(Number(await redis.pttl(key)) > 4000, "renewed");
      await redis.del(key);
      await assert.rejects(fence(signal), /no longer held by a/);
      await redis.set(key, "b", "PX", 5000);
      await assert.rejects(fence(signal), /no longer held by a/);
      assert.equal(lost, 2);
      assert.deepEqual(said, [
        "lease of the unit expired: stopping it, its batch left to whoever acquires it (this instance too, at its next round)",
        "lease of the unit lost to another instance: stopping it, its batch left to it",
      ]);
      assert.equal(await redis.get(key), "b", "another's lease untouched");
    });
  },
);

Deno.test(
  "runAssignment(): a unit whose lease lapsed while this instance was cut off is started afresh, never resumed",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      // a cut off from Redis past its TTL: another instance took logs:0 over, consumed it, and
      // left (a deploy) before a got through again. a's round found the lease free and took it
      // back (CLAIM: acquired) while its unit was still running with the windows it had before
      // the other's entries: it went on from them, missing what the other had consumed, and
      // checkpointed that state as covering it. Started afresh, it restores the other's
      // checkpoint and replays from there.
      let cut = false;
      const guarded = interceptCalls(redis, () => {
        if (cut) throw new Error("connect ETIMEDOUT");
      });
      const { running, starts, stop } = member(guarded, keys, "a");
      try {
        await waitFor(() => running.size === 4, { what: "every unit" });
        cut = true;
        const lease = keys.scratch("lease", "logs:0");
        await waitFor(async () => (await redis.get(lease)) === null, { what: "a's lease lapsed" });
        await redis.set(lease, "b", "PX", 10_000); // b takes logs:0 over …
        await new Promise((r) => setTimeout(r, 300));
        await redis.del(lease); // … and leaves, releasing it
        cut = false;
        await waitFor(async () => (await redis.get(lease)) === "a", { what: "logs:0 back to a" });
        await waitFor(() => running.has("logs:0"), { what: "logs:0 running" });
        assert.equal(starts.filter((u) => u === "logs:0").length, 2, "logs:0 started afresh");
      } finally {
        cut = false;
        await stop();
      }
    }),
);
