import assert from "node:assert/strict";
import { waitFor } from "@vigil/tools/testing/kafka";
import { appendEvents, pendingCount, readAlerts, readRows, withDetector } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "detector stores each anomaly once, publishes it once and acknowledges everything",
  opts,
  async () => {
    await withDetector({}, async ({ sql, redis, keys }) => {
      const t0 = Date.now() - 60_000;
      const at = (ms: number) => new Date(t0 + ms).toISOString();
      const logs = Array.from({ length: 25 }, (_, i) => ({
        timestamp: at(i * 1000),
        service: "checkout",
        level: "ERROR",
        message: i === 3 ? "payment failed" : "boom",
      }));
      await appendEvents(redis, keys, "logs", logs);
      await appendEvents(redis, keys, "metrics", [
        { timestamp: at(0), service: "api", cpu: 50, latency_ms: 1001 },
      ]);
      await appendEvents(redis, keys, "transactions", [
        {
          timestamp: at(0),
          transaction_id: "t1",
          user_id: "u1",
          amount: 10_001,
          currency: "EUR",
          status: "approved",
        },
      ]);
      await appendEvents(redis, keys, "logs", [{ nonsense: true }]);
      await waitFor(async () => (await readAlerts(redis, keys)).length >= 4, {
        what: "4 alerts",
      });
      await waitFor(async () =>
        (await pendingCount(redis, keys, "logs")) === 0 &&
        (await pendingCount(redis, keys, "metrics")) === 0, { what: "all acknowledged" });
      // The publication record lands just after the acknowledgement.
      await waitFor(async () => (await readRows(sql)).every((r) => r.published), {
        what: "publication recorded",
      });
      const rows = await readRows(sql);
      assert.deepEqual(rows.map((r) => [r.rule, r.entity, r.severity]).sort(), [
        ["amount_high", "u1", "CRITICAL"],
        ["error_spike", "checkout", "CRITICAL"],
        ["failed_message", "checkout", "WARNING"],
        ["latency_high", "api", "CRITICAL"],
      ]);
      assert.ok(rows.every((r) => r.published));
      const alerts = await readAlerts(redis, keys);
      assert.equal(alerts.length, 4);
      const spike = alerts.find((a) => a.rule === "error_spike")!;
      assert.equal(spike.evidence.length, 20);
      assert.equal(spike.evidence[0]!.stream, keys.events("logs"));
      assert.match(spike.trace_id ?? "", /^[0-9a-f]{32}$/);
      assert.ok(spike.stages.published! >= spike.stages.stored!);
      const dlq = await redis.xrange(keys.dlq(), "-", "+");
      assert.equal(dlq.length, 1);
      assert.match(dlq[0]![1].join(" "), /invalid stream entry: data is not an event/);
    });
  },
);

Deno.test(
  "an anomaly PostgreSQL refuses (NUL in its entity) dead-letters its entry; the stream keeps flowing",
  opts,
  async () => {
    await withDetector({}, async ({ sql, redis, keys, d }) => {
      const t0 = Date.now() - 60_000;
      const at = (ms: number) => new Date(t0 + ms).toISOString();
      // Written past the bridge (which refuses NUL): 10 logs of user "u\0" trip
      // user_spike, whose row PostgreSQL cannot store (text cannot hold NUL).
      const log = (i: number, user: string, level = "INFO") => ({
        timestamp: at(i * 100),
        service: "checkout",
        level,
        message: "x",
        user_id: user,
      });
      const poison = Array.from({ length: 10 }, (_, i) => log(i, "u\u0000"));
      const ids = await appendEvents(redis, keys, "logs", poison);
      // Then a normal spike of another user, in the same and the next batches.
      await appendEvents(
        redis,
        keys,
        "logs",
        Array.from({ length: 10 }, (_, i) => log(i, "ok")),
      );
      await waitFor(async () => (await readRows(sql)).some((r) => r.entity === "ok"), {
        what: "the normal user's anomaly",
        timeoutMs: 20_000,
      });
      await waitFor(async () => (await pendingCount(redis, keys, "logs")) === 0, {
        what: "everything acknowledged",
      });
      const dlq = await redis.xrange(keys.dlq(), "-", "+");
      assert.equal(dlq.length, 1, "only the entry that triggered the refused anomaly");
      const fields = dlq[0]![1].join(" ");
      assert.ok(fields.includes(ids[9]!), "the 10th log (the trigger) is dead-lettered");
      assert.match(fields, /anomaly user_spike of this event cannot be stored/);
      assert.deepEqual((await readRows(sql)).map((r) => [r.rule, r.entity]), [
        ["user_spike", "ok"],
      ]);
      assert.equal(d.detector.health().ok, true);
    });
  },
);
