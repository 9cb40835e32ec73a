import assert from "node:assert/strict";
import { waitFor } from "@vigil/tools/testing/kafka";
import { sampleValue } from "@vigil/tools/testing/metrics";
import { createStatsEngine } from "../core/score_engine.ts";
import { GROUPS } from "@vigil/shared/keys";
import { withPg } from "@vigil/tools/testing/pg";
import { withRedis } from "@vigil/tools/testing/redis";
import {
  appendEvents,
  pendingCount,
  readAlerts,
  readRows,
  startDetector,
  withDetector,
} from "./_harness.ts";

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

Deno.test(
  "a reading older than its series' last one is counted as late, not scored into an alert",
  opts,
  async () => {
    await withDetector(
      { engine: createStatsEngine() as never },
      async ({ sql, redis, keys, d }) => {
        const t0 = Date.now() - 3_600_000;
        const reading = (t: number, latency: number) => ({
          timestamp: new Date(t).toISOString(),
          service: "api",
          cpu: 30 + (t / 60_000) % 3,
          latency_ms: latency,
        });
        // An hour of steady readings, then one 16 days old at a very different level: the
        // out-of-order tail of a backfill.
        const steady = Array.from(
          { length: 60 },
          (_, i) => reading(t0 + i * 60_000, 100 + (i % 5)),
        );
        await appendEvents(redis, keys, "metrics", steady);
        const [old] = await appendEvents(redis, keys, "metrics", [
          reading(t0 - 16 * 86_400_000, 900),
        ]);
        await waitFor(async () => (await pendingCount(redis, keys, "metrics")) === 0, {
          what: "all acknowledged",
        });
        const counter = d.registry.counter("vigil_detector_late_events_total", "");
        await waitFor(
          async () => await sampleValue(counter, { type: "metrics", rule: "metric_score" }) === 2,
          { what: `the reading ${old} counted as late for cpu and latency_ms` },
        );
        const rows = await readRows(sql);
        assert.deepEqual(rows.filter((r) => r.rule === "metric_score"), [], "no alert from it");
      },
    );
  },
);

Deno.test(
  "an entry delivered more than DETECTOR_MAX_DELIVERIES times (it crashed the detector) is dead-lettered and counted",
  opts,
  async () => {
    await withPg(({ sql }) =>
      withRedis(async ({ redis, keys }) => {
        const stream = keys.events("logs");
        await redis.xgroup("CREATE", stream, GROUPS.detector, "0", "MKSTREAM");
        const [id] = await appendEvents(redis, keys, "logs", [
          { timestamp: new Date().toISOString(), service: "checkout", level: "INFO", message: "x" },
        ]);
        // Delivered 10 times to the unit's consumer, never acknowledged: each start crashed on it.
        await redis.xreadgroup("GROUP", GROUPS.detector, "logs:0", "STREAMS", stream, ">");
        await redis.xclaim(stream, GROUPS.detector, "logs:0", 0, id!, "RETRYCOUNT", 10);
        const d = await startDetector({ sql, keys, redis });
        try {
          await waitFor(async () => (await redis.xlen(keys.dlq())) === 1, {
            what: "the entry dead-lettered",
          });
          const counter = d.registry.counter("vigil_detector_dead_letters_total", "");
          await waitFor(async () => await sampleValue(counter, { type: "logs" }) === 1, {
            what: "vigil_detector_dead_letters_total{type=logs} at 1",
          });
        } finally {
          await d.stop();
        }
      })
    );
  },
);
