import assert from "node:assert/strict";
import { migrate } from "@vigil/shared/migrate";
import { withPg } from "@vigil/tools/testing/pg";
import { type BatchResult, emptyState } from "../batcher.ts";
import { createStore, type NotifierStore } from "../store.ts";
import { makeAlert, testEnv } from "./_helpers.ts";
import type { Digest } from "../digest.ts";
import { startNotifier } from "../app.ts";
import { loadConfig } from "../config.ts";
import { silentLogger } from "@vigil/tools/testing/log";
import { withRedis } from "@vigil/tools/testing/redis";
import { Registry } from "@vigil/shared/metrics";
import { createRetentionMetrics, runRetention } from "@vigil/shared/retention/run";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A migrated fresh database and the notifier's store on it. */
function withStore(
  fn: (ctx: { sql: Parameters<typeof createStore>[0]; store: NotifierStore }) => Promise<void>,
): Promise<void> {
  return withPg(async ({ sql }) => {
    await migrate(sql);
    await fn({ sql, store: createStore(sql) });
  });
}

/** A digest for the webhook channel, created at `createdAt`; `fields` override the rest. */
function webhookDigest(
  id: string,
  createdAt: number,
  fields: Record<string, unknown> = {},
): Digest {
  return {
    id,
    kind: "digest",
    route: "default",
    groupKey: "g",
    createdAt,
    alerts: [],
    streamIds: [],
    channels: ["webhook"],
    ...fields,
  } as unknown as Digest;
}

function result(over: Partial<BatchResult> = {}): BatchResult {
  return { state: emptyState(), digests: [], settled: [], changed: [], placed: {}, ...over };
}

Deno.test(
  "commit() records alerts settled after grouping (silenced later) in one update",
  opts,
  async () => {
    await withStore(async ({ sql, store }) => {
      const alerts = ["a1", "a2", "a3"].map((id) => makeAlert({ id }));
      await store.commit({
        items: alerts.map((alert, i) => ({ streamId: `1-${i}`, alert })),
        result: result({ placed: { "1-0": "g", "1-1": "g", "1-2": "g" } }),
      });
      // A later tick settles two of them: one silenced, one a duplicate.
      await store.commit({
        items: [],
        result: result({
          settled: [
            { streamId: "1-0", alertId: "a1", disposition: "silenced", silenceId: "s9" },
            { streamId: "1-2", alertId: "a3", disposition: "duplicate" },
          ],
        }),
      });
      const rows = await sql<
        { stream_id: string; disposition: string; silence_id: string | null }[]
      >`
      SELECT stream_id, disposition, silence_id FROM notifier_alerts ORDER BY stream_id`;
      assert.deepEqual(rows.map((r) => [r.stream_id, r.disposition, r.silence_id]), [
        ["1-0", "silenced", "s9"],
        ["1-1", "grouped", null],
        ["1-2", "duplicate", null],
      ]);
    });
  },
);

Deno.test(
  "alertsTakenIn() reads the window's alerts oldest first without silenced ones, newest kept",
  opts,
  async () => {
    await withStore(async ({ sql, store }) => {
      const alerts = ["b1", "b2", "b3", "b4"].map((id) => makeAlert({ id }));
      await store.commit({
        items: alerts.map((alert, i) => ({ streamId: `2-${i}`, alert })),
        result: result({
          settled: [{ streamId: "2-1", alertId: "b2", disposition: "silenced", silenceId: "s" }],
        }),
      });
      const t0 = Date.parse("2025-03-01T12:00:00Z");
      for (const [i, id] of ["b1", "b2", "b3", "b4"].entries()) {
        await sql`UPDATE notifier_alerts SET received_at = ${new Date(t0 + i * 60_000)}
          WHERE alert_id = ${id}`;
      }
      const all = await store.alertsTakenIn({ fromMs: t0, toMs: t0 + 3 * 60_000, limit: 10 });
      assert.deepEqual(all.alerts.map((a) => [a.alert.id, a.at - t0]), [["b1", 0], [
        "b3",
        120_000,
      ]]);
      assert.equal(all.truncated, false);
      const some = await store.alertsTakenIn({ fromMs: t0, toMs: t0 + 4 * 60_000, limit: 2 });
      assert.deepEqual(some.alerts.map((a) => a.alert.id), ["b3", "b4"]);
      assert.equal(some.truncated, true);
    });
  },
);

Deno.test(
  "a notification failed because its channel is no longer configured counts in digests_total",
  opts,
  async () => {
    await withPg(async ({ sql, url }) => {
      await withRedis(async ({ prefix }) => {
        await migrate(sql);
        // Planned for Discord; the notifier restarts without DISCORD_WEBHOOK_URL.
        const d: Digest = {
          id: "g-unconfigured-0",
          kind: "digest",
          route: "default",
          groupKey: "default|",
          groupLabels: {},
          createdAt: Date.now(),
          channels: ["discord"],
          alerts: [{ ...makeAlert({}), isNew: true, flapping: false, resolvedAfterMs: null }],
          flapping: [],
          streamIds: [],
        };
        await createStore(sql).commit({ items: [], result: result({ digests: [d] }) });
        const outbox = `./data/test-outbox-${crypto.randomUUID().slice(0, 8)}`;
        const config = loadConfig(
          testEnv({ prefix, databaseUrl: url, extra: { OUTBOX_DIR: outbox } }),
        );
        const notifier = await startNotifier(config, { log: silentLogger() });
        try {
          await notifier.ready;
          const [row] = await sql<{ status: string; error: string }[]>`
            SELECT status, error FROM notifications WHERE digest_id = ${d.id}`;
          assert.deepEqual(row, { status: "failed", error: "channel is not configured" });
          assert.match(
            await notifier.registry.render(),
            /vigil_notifier_digests_total\{channel="discord",status="failed"\} 1/,
            "a digest that reached its final state (failed) is counted",
          );
        } finally {
          await notifier.close();
          await Deno.remove(outbox, { recursive: true }).catch(() => {});
        }
      });
    });
  },
);

Deno.test(
  "recordAttempt() never turns a final notification back to pending (a late attempt of another notifier)",
  opts,
  async () => {
    await withStore(async ({ sql, store }) => {
      const t = Date.parse("2025-03-01T12:00:00Z");
      const digest = webhookDigest("d-late", t, { kind: "new" });
      await store.commit({ items: [], result: result({ digests: [digest] }) });
      const base = { digestId: "d-late", channel: "webhook", alertIds: [], durationMs: 5 };
      // Notifier B (took over) sends it: accepted.
      await store.recordAttempt({ ...base, attempt: 1, ok: true, status: "sent", at: t + 1000 });
      // Notifier A (lost the lock mid-send) records its own attempt afterwards: it timed out.
      await store.recordAttempt({
        ...base,
        attempt: 1,
        ok: false,
        status: "pending",
        retryable: true,
        error: "Cannot send: timed out",
        at: t + 2000,
        nextAttemptAt: t + 3000,
      });
      assert.equal(await store.nextPending("webhook"), null, "sent again");
      const [row] = await sql<{ status: string; sent_at: Date | null }[]>`
        SELECT status, sent_at FROM notifications WHERE digest_id = 'd-late'`;
      assert.equal(row?.status, "sent");
      assert.equal(row?.sent_at?.getTime(), t + 1000);
    });
  },
);

Deno.test(
  "recordAttempt() stamps each alert's stages with `notified` when sent, not on a retry",
  opts,
  async () => {
    await withStore(async ({ sql, store }) => {
      const t = Date.parse("2025-03-01T12:00:00Z");
      const alerts = [{ id: "a1", stages: { event: t - 500 } }, { id: "a2", stages: {} }];
      await store.commit({
        items: [],
        result: result({ digests: [webhookDigest("d-st", t, { alerts })] }),
      });
      const base = { digestId: "d-st", channel: "webhook", alertIds: ["a1", "a2"], durationMs: 5 };
      const stages = async () =>
        (await sql<{ stages: unknown }[]>`
          SELECT stages FROM notifications WHERE digest_id = 'd-st'`)[0]?.stages;
      await store.recordAttempt({
        ...base,
        attempt: 1,
        ok: false,
        status: "pending",
        retryable: true,
        error: "HTTP 503",
        at: t + 1000,
        nextAttemptAt: t + 2000,
      });
      assert.deepEqual(await stages(), {});
      await store.recordAttempt({ ...base, attempt: 2, ok: true, status: "sent", at: t + 3000 });
      assert.deepEqual(await stages(), {
        a1: { event: t - 500, notified: t + 3000 },
        a2: { notified: t + 3000 },
      });
    });
  },
);

Deno.test(
  "nextPending() reads a digest only when it is due: a channel backing off looks every second",
  opts,
  async () => {
    await withStore(async ({ store }) => {
      const t = Date.parse("2025-03-01T12:00:00Z");
      const digest = webhookDigest("d-storm", t, {
        groupLabels: {},
        alerts: [makeAlert({ id: "s1" })],
        flapping: [],
      });
      await store.commit({ items: [], result: result({ digests: [digest] }) });
      await store.recordAttempt({
        digestId: "d-storm",
        channel: "webhook",
        attempt: 1,
        ok: false,
        status: "pending",
        retryable: true,
        error: "HTTP 503",
        alertIds: ["s1"],
        durationMs: 5,
        at: t + 1000,
        nextAttemptAt: t + 3_600_000,
      });
      // Before: the whole digest (13 MB for a storm of 20,000 alerts) was read and parsed on
      // each look, holding the event loop for hundreds of ms a second while the channel was down.
      const waiting = await store.nextPending("webhook", t + 60_000);
      assert.equal(waiting?.nextAttemptAt, t + 3_600_000);
      assert.equal(waiting?.digest, null);
      const due = await store.nextPending("webhook", t + 3_600_000);
      assert.equal(due?.digest?.id, "d-storm");
      assert.equal((await store.nextPending("webhook"))?.digest?.id, "d-storm", "no clock: read");
      // The clock set back an hour after the attempt: due now, not when the clock catches up.
      const back = await store.nextPending("webhook", t + 1000 - 3_600_000);
      assert.equal(back?.digest?.id, "d-storm", "the clock set back");
      assert.equal(back?.lastAttemptAt, t + 1000);
    });
  },
);

Deno.test(
  "undelivered() does not count a delivered alert whose digest retention deleted as waiting",
  opts,
  async () => {
    await withStore(async ({ sql, store }) => {
      const HOUR = 3_600_000;
      const dayAgo = Date.now() - 24 * HOUR;
      const alert = makeAlert({});
      await store.commit({
        items: [{ streamId: "1-0", alert }],
        result: result({ placed: { "1-0": "default|" } }),
      });
      await sql`UPDATE notifier_alerts SET received_at = ${new Date(dayAgo)}`;
      const digest = webhookDigest("d-told", dayAgo + 1000, {
        groupKey: "default|",
        alerts: [{ ...alert, isNew: true, flapping: false, resolvedAfterMs: null }],
        streamIds: ["1-0"],
      });
      await store.commit({ items: [], result: result({ digests: [digest] }) });
      await store.recordAttempt({
        digestId: "d-told",
        channel: "webhook",
        attempt: 1,
        ok: true,
        status: "sent",
        at: dayAgo + 2000,
        alertIds: [alert.id],
        durationMs: 5,
      });
      assert.equal(await store.undelivered(), 0, "sent: not pending");
      // RETENTION_NOTIFICATIONS=1h (the notifier's intake records kept longer): the digest that
      // told the alert goes, the alert's record stays.
      const registry = new Registry();
      const report = await runRetention(
        { sql, log: silentLogger(), metrics: createRetentionMetrics(registry), now: Date.now },
        {
          ages: {
            anomaly_events: 0,
            notifier_digests: HOUR,
            notification_attempts: 0,
            notifier_alerts: 0,
            silences: 0,
          },
          batchSize: 100,
          maxBatches: 10,
        },
      );
      assert.equal(report?.deleted.notifier_digests, 1);
      assert.equal(
        await store.undelivered(),
        0,
        "an alert told by a digest retention deleted is not waiting for one",
      );
      // One taken in since, in no digest yet, still waits for its group's digest.
      await store.commit({
        items: [{ streamId: "2-0", alert: makeAlert({}) }],
        result: result({ placed: { "2-0": "default|" } }),
      });
      assert.equal(await store.undelivered(), 1);
    });
  },
);
