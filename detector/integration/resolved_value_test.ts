import assert from "node:assert/strict";
import { waitFor } from "@vigil/tools/testing/kafka";
import { appendEvents, readAlerts, withDetector } from "./_harness.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "a resolved latency alert and its row carry the latency it resolved at",
  opts,
  async () => {
    await withDetector({}, async ({ sql, redis, keys }) => {
      const t0 = Date.now() - 60_000;
      const at = (ms: number) => new Date(t0 + ms).toISOString();
      await appendEvents(redis, keys, "metrics", [
        { timestamp: at(0), service: "api", cpu: 50, latency_ms: 1500 },
        { timestamp: at(10_000), service: "api", cpu: 50, latency_ms: 320 },
      ]);
      await waitFor(
        async () => (await readAlerts(redis, keys)).some((a) => a.status === "resolved"),
        { what: "the resolved alert" },
      );
      const rows = await sql<
        {
          rule: string;
          resolved_at: Date | null;
          resolved_value: number | null;
          resolved_details: unknown;
        }[]
      >`SELECT rule, resolved_at, resolved_value, resolved_details FROM anomaly_events`;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.rule, "latency_high");
      assert.equal(rows[0]!.resolved_at?.toISOString(), at(10_000));
      assert.equal(rows[0]!.resolved_value, 320);
      assert.deepEqual(rows[0]!.resolved_details, { latency_ms: 320 });
      const alerts = await readAlerts(redis, keys);
      const firing = alerts.find((a) => a.status === "firing")!;
      const resolved = alerts.find((a) => a.status === "resolved")!;
      assert.equal(firing.resolved_value, undefined, "a firing alert has no resolved value");
      assert.equal(resolved.resolved_value, 320);
      assert.deepEqual(resolved.resolved_details, { latency_ms: 320 });
      assert.equal(resolved.details["latency_ms"], 1500, "what it fired at is kept");
    });
  },
);
