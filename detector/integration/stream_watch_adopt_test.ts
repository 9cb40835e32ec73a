/**
 * The stream watch against the real PostgreSQL and Redis: a stream-level
 * alert stored before a restart is taken over and resolved when the stream
 * reports again, however many per-entity `no_data` alerts are open.
 */
import assert from "node:assert/strict";
import { silentLogger } from "@vigil/tools/testing/log";
import { waitFor } from "@vigil/tools/testing/wait";
import { appendEvents, readAlerts, startDetector, withStoreAndRedis } from "./_harness.ts";
import { DEFAULT_RULES } from "../core/rules_config.ts";
import type { Firing, Resolution } from "../core/rules/types.ts";
import { checkStream, createStreamSilence } from "../core/stream_silence.ts";
import { runStreamWatch } from "../io/stream_watch.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The stream alert of logs quiet for an hour, as the stream watch raises it. */
function quietLogsAlert(): Firing {
  const config = DEFAULT_RULES.no_data.stream;
  const quietSince = Date.now() - 3_600_000;
  const [stream] = checkStream(
    createStreamSilence(quietSince - 1),
    "logs",
    quietSince,
    quietSince + config.after,
    config,
  ) as Firing[];
  assert.ok(stream);
  return stream;
}

Deno.test(
  "stream watch: the stored stream alert resolves after a restart behind 1000+ entity no_data alerts",
  opts,
  () =>
    withStoreAndRedis(async ({ redis, keys, store }) => {
      // The logs stream went quiet: its alert is stored (then the detector restarts).
      const stream = quietLogsAlert();
      await store.insert([stream], "");
      // Meanwhile 1001 metrics entities went silent, each with its own alert (newer).
      const entities: Firing[] = Array.from({ length: 1001 }, (_, i) => ({
        ...stream,
        id: `e${i}`,
        type: "metrics",
        entity: `svc-${i}`,
        severity: "WARNING",
        details: { after_ms: 600_000 },
      }));
      await store.insert(entities, "vigil:events:metrics:0");
      // The logs stream is back.
      await redis.xadd(keys.events("logs", 0), "*", "x", "1");

      const controller = new AbortController();
      const resolved: Resolution[] = [];
      const watch = runStreamWatch({
        redis,
        keys,
        partitions: 1,
        rules: () => DEFAULT_RULES,
        store,
        owns: (type) => type === "logs",
        emit(_firings, resolutions) {
          resolved.push(...resolutions);
          controller.abort();
          return Promise.resolve();
        },
        log: silentLogger(),
        intervalMs: 50,
      }, controller.signal);
      setTimeout(() => controller.abort(), 2000);
      await watch;
      assert.deepEqual(resolved.map((r) => r.ids), [[stream.id]]);
    }),
);

Deno.test(
  "stream watch: a stream alert stored but never published by the previous owner goes out firing, then resolved",
  opts,
  () =>
    withStoreAndRedis(async ({ sql, redis, keys, store }) => {
      // Another instance owned logs:0: its watch stored the logs stream's alert and it was
      // killed before publishing it. This one, running already (its start-up outbox pass long
      // done), takes logs:0 over, adopts the open row and resolves it when the stream is back.
      // Before, the resolution was published alone: the firing followed up to a minute later
      // from the outbox sweep, and the notifier took it for a new alert that never resolved.
      await redis.set(keys.detectorLease({ kind: "logs", partition: 0 }), "gone", "PX", 2500);
      const d = await startDetector({ sql, keys, redis }, { settings: { streamCheckMs: 100 } });
      try {
        await waitFor(() => d.detector.owned().includes("metrics:0"), { what: "running" });
        const stream = quietLogsAlert();
        assert.equal((await store.insert([stream], "stream watch")).length, 1);
        await waitFor(() => d.detector.owned().includes("logs:0"), { what: "logs:0 taken over" });
        await appendEvents(redis, keys, "logs", [{
          timestamp: new Date().toISOString(),
          service: "api",
          level: "INFO",
          message: "back",
        }]);
        await waitFor(
          async () =>
            (await sql`SELECT 1 FROM anomaly_events WHERE id = ${stream.id}
              AND resolved_published_at IS NOT NULL`).length === 1,
          { what: "the resolution published" },
        );
        const alerts = (await readAlerts(redis, keys)).filter((a) => a.id === stream.id);
        assert.deepEqual(alerts.map((a) => a.status), ["firing", "resolved"]);
      } finally {
        await d.stop();
      }
    }),
);
