/**
 * No-data alerts on the real detector (in process, real Redis and
 * PostgreSQL): an entity that stops reporting while the stream goes on
 * raises one alert that resolves when it reports again; the whole stream
 * going quiet raises one stream-level alert (and none per entity) that
 * resolves when entries come back.
 */
import assert from "node:assert/strict";
import { waitFor } from "@vigil/tools/testing/wait";
import { rulesWith } from "../tools/testing/rules.ts";
import { appendEvents, readAlerts, withDetector } from "./_harness.ts";

const MIN = 60_000;

Deno.test(
  "detector raises no_data for a silent entity and one alert for a quiet stream, each resolved when data returns",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const rules = rulesWith({
      no_data: { metrics: { enabled: true, after: "2m" }, stream: { after: "3s" } },
    });
    await withDetector(
      { rules, settings: { streamCheckMs: 200 } },
      async ({ sql, redis, keys }) => {
        const base = Date.now() - 30 * MIN;
        const reading = (service: string, ms: number) => ({
          timestamp: new Date(base + ms).toISOString(),
          service,
          cpu: 20,
          latency_ms: 100,
        });
        const series = (services: string[], from: number, to: number) => {
          const out = [];
          for (let t = from; t <= to; t += 30_000) {
            for (const s of services) out.push(reading(s, t));
          }
          return out;
        };
        const rows = () =>
          sql<{ id: string; entity: string; resolved: boolean; event_time: Date }[]>`
        SELECT id, entity, resolved_at IS NOT NULL AS resolved, event_time
        FROM anomaly_events WHERE rule = 'no_data' ORDER BY detected_at`;

        // a stops after 1 min, b goes on to 5 min: a is silent from 1 min, alert at 3 min.
        await appendEvents(redis, keys, "metrics", [
          ...series(["a", "b"], 0, MIN),
          ...series(["b"], 1.5 * MIN, 5 * MIN),
        ]);
        await waitFor(async () => (await rows()).length >= 1, { what: "a's no_data alert" });
        const [a] = await rows();
        assert.equal(a!.entity, "a");
        assert.equal(a!.event_time.getTime(), base + 3 * MIN);
        // a reports again: resolved.
        await appendEvents(redis, keys, "metrics", [reading("a", 5.5 * MIN)]);
        await waitFor(async () => (await rows())[0]!.resolved, { what: "a's alert resolved" });

        // Nothing more is appended: after 3 s the stream is quiet, one alert for it.
        // Stored in PostgreSQL first, then published: wait for the alerts stream too.
        const streamAlertsOf = async () =>
          (await readAlerts(redis, keys)).filter((x) => x.entity === "*");
        await waitFor(
          async () => (await rows()).length >= 2 && (await streamAlertsOf()).length >= 1,
          { what: "the stream-level alert, stored and published", timeoutMs: 15_000 },
        );
        await new Promise((ok) => setTimeout(ok, 1000)); // more checks: still one
        const quiet = await rows();
        assert.deepEqual(quiet.map((r) => [r.entity, r.resolved]), [["a", true], ["*", false]]);
        const streamAlerts = await streamAlertsOf();
        assert.equal(streamAlerts.length, 1);
        assert.equal(streamAlerts[0]!.type, "metrics");
        assert.equal(streamAlerts[0]!.severity, "CRITICAL");
        assert.match(
          streamAlerts[0]!.title,
          /No metrics at all for 3 s: the stream is quiet/,
        );
        // logs and transactions never had an entry: not judged.
        // The stream comes back after a gap of 10 minutes of event time: b and a report
        // again; no entity alerts for the gap, the stream alert resolves.
        await appendEvents(redis, keys, "metrics", series(["a", "b"], 15 * MIN, 16 * MIN));
        const resolvedAlerts = async () =>
          (await streamAlertsOf()).filter((x) => x.status === "resolved");
        // Resolved in PostgreSQL first, then published: wait for the resolved alert too.
        await waitFor(
          async () => (await rows())[1]!.resolved && (await resolvedAlerts()).length >= 1,
          { what: "stream alert resolved and its resolution published" },
        );
        assert.equal((await rows()).length, 2, "no per-entity alert for the stream's gap");
        assert.equal((await resolvedAlerts()).length, 1);
      },
    );
  },
);
