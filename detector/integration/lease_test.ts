import assert from "node:assert/strict";
import { withRedis } from "@vigil/tools/testing/redis";
import { silentLogger } from "@vigil/shared/log";
import { createLease } from "../io/lease.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "createLease() keep(): an expired lease nobody took is re-acquired; only another owner's is lost",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const key = keys.key("detector", "lease", "t");
      const lease = createLease({ redis, key, owner: "a", ttlMs: 300, log: silentLogger() });
      const stop = new AbortController();
      await lease.acquire(stop.signal);
      const lost: string[] = [];
      const keeping = lease.keep(stop.signal, (r) => lost.push(r));
      // Redis lost the key (it was down longer than the TTL, or restarted empty).
      await redis.del(key);
      await new Promise((r) => setTimeout(r, 250));
      assert.deepEqual(lost, [], "not lost: nobody else holds it");
      assert.equal(await redis.get(key), "a", "re-acquired");
      // Another instance takes it over.
      await redis.set(key, "b", "PX", 10_000);
      await keeping;
      assert.equal(lost.length, 1);
      assert.match(lost[0]!, /taken over by another instance \(b\)/);
      stop.abort();
    }),
);

Deno.test(
  "createLease() acquire() waits while another owner holds it and takes it once it expires",
  opts,
  () =>
    withRedis(async ({ redis, keys }) => {
      const key = keys.key("detector", "lease", "t2");
      await redis.set(key, "other", "PX", 400);
      const lease = createLease({ redis, key, owner: "me", ttlMs: 300, log: silentLogger() });
      const started = Date.now();
      await lease.acquire(new AbortController().signal);
      assert.ok(Date.now() - started >= 300, "waited for the holder's lease to expire");
      assert.equal(await redis.get(key), "me");
      await lease.release();
      assert.equal(await redis.get(key), null);
    }),
);
