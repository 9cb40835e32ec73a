/**
 * A detector that lost the lease of a stream partition (another instance took
 * it over, or it expired while this one was busy) must not process what the
 * new owner will: before each batch it renews its lease, and without it the
 * batch stays pending, unevaluated, for the holder. Real Redis and PostgreSQL.
 */
import assert from "node:assert/strict";
import { waitFor } from "@vigil/tools/testing/wait";
import { appendEvents, consumedUpTo, readRows, withDetector } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a detector whose lease was taken over stores and acknowledges nothing; the lease holder gets the entries",
  opts,
  () =>
    withDetector({ settings: { leaseTtlMs: 3000 } }, async ({ sql, redis, keys }) => {
      const lease = keys.detectorLease({ kind: "logs", partition: 0 });
      const t0 = Date.now() - 60_000;
      const at = (ms: number) => new Date(t0 + ms).toISOString();
      const log = (i: number) => ({
        timestamp: at(i * 1000),
        service: "checkout",
        level: "ERROR",
        message: "boom",
      });
      // Consuming: one entry read and acknowledged.
      const [first] = await appendEvents(redis, keys, "logs", [log(0)]);
      await waitFor(() => consumedUpTo(redis, keys, "logs", first!), { what: "first entry" });
      const owner = await redis.get(lease);
      assert.ok(owner, "the detector holds the lease");

      // Another instance holds the unit now; 24 more errors (the spike fires at 20).
      await redis.set(lease, "another-instance", "PX", 60_000);
      const ids = await appendEvents(
        redis,
        keys,
        "logs",
        Array.from({ length: 24 }, (_, i) => log(i + 1)),
      );
      // Either the next batch is read and the unit stops at its fence, or the
      // assignment stopped the unit first: in both cases nothing is processed.
      const heartbeat = async () =>
        Number((await redis.zrange(keys.detectorMembers(), 0, -1, "WITHSCORES"))[1] ?? 0);
      const beat = await heartbeat();
      await new Promise((r) => setTimeout(r, 2500)); // several batch and lease rounds
      // However busy the machine: the detector's heartbeat (a lease round's first step, every
      // 1 s at this TTL) moved on by two rounds since the takeover.
      await waitFor(async () => (await heartbeat()) >= beat + 2000, {
        what: "two lease rounds since the takeover",
      });
      const held = await readRows(sql);
      assert.equal(held.length, 0, `nothing stored without the lease: ${JSON.stringify(held)}`);
      assert.equal(await consumedUpTo(redis, keys, "logs", ids.at(-1)!), false, "not acknowledged");
      assert.equal(await redis.get(lease), "another-instance", "the lease was not taken back");

      // The other instance lets go: this one takes the unit again and processes the entries once.
      await redis.del(lease);
      await waitFor(() => consumedUpTo(redis, keys, "logs", ids.at(-1)!), {
        what: "the entries processed after the lease came back",
        timeoutMs: 20_000,
      });
      await waitFor(async () => (await readRows(sql)).length > 0, { what: "the spike stored" });
      const rows = await readRows(sql);
      assert.deepEqual(rows.map((r) => [r.rule, r.entity]), [["error_spike", "checkout"]]);
      assert.equal(await redis.get(lease), owner, "the lease is held again");
    }),
);
