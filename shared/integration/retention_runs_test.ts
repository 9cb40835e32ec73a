/**
 * The record of retention runs against a real PostgreSQL: a run writes its
 * row (rows deleted per table, ages, interval), the latest is read back, and
 * only the last N rows are kept.
 */
import assert from "node:assert/strict";
import { withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "../metrics.ts";
import { migrate } from "../migrate.ts";
import { createRetentionMetrics, runRetention } from "../retention/run.ts";
import { latestRetentionRun, recordRetentionRun } from "../retention/runs.ts";

const NOW = Date.parse("2026-03-01T00:00:00Z");
const DAY = 86_400_000;

Deno.test("runRetention() records its run; the latest is read back", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    assert.equal(await latestRetentionRun(sql), null);
    await sql`INSERT INTO silences (id, matchers, starts_at, ends_at, author)
      VALUES ('s-old', '{}', ${new Date(NOW - 40 * DAY)}, ${new Date(NOW - 31 * DAY)}, 't')`;
    let t = NOW;
    const report = await runRetention(
      {
        sql,
        log: silentLogger(),
        metrics: createRetentionMetrics(new Registry()),
        now: () => (t += 1000),
      },
      { ages: { silences: 30 * DAY }, batchSize: 10, maxBatches: 5, intervalMs: 3_600_000 },
    );
    assert.equal(report?.deleted.silences, 1);
    const run = await latestRetentionRun(sql);
    assert.ok(run);
    assert.equal(run.outcome, "done");
    assert.equal(run.deleted.silences, 1);
    assert.equal(run.ages_ms.silences, 30 * DAY);
    assert.equal(run.interval_ms, 3_600_000);
    assert.ok(Date.parse(run.finished_at) > Date.parse(run.started_at));
  });
});

Deno.test("runRetention() cut by shutdown is recorded interrupted with the tables left, not done", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    for (let i = 0; i < 25; i++) {
      await sql`INSERT INTO notifier_alerts (stream_id, alert_id, status, type, rule, severity,
        entity, alert, disposition, received_at) VALUES (${`${i}-0`}, 'a', 'firing', 'metrics',
        'r', 'WARNING', 'e', '{}', 'grouped', ${new Date(NOW - (40 + i) * DAY)})`;
    }
    await sql`INSERT INTO silences (id, matchers, starts_at, ends_at, author)
      VALUES ('s-old', '{}', ${new Date(NOW - 40 * DAY)}, ${new Date(NOW - 31 * DAY)}, 't')`;
    const registry = new Registry();
    const metrics = createRetentionMetrics(registry);
    const shutdown = new AbortController();
    // The notifier stops while the first batch runs.
    const inc = metrics.deleted.inc.bind(metrics.deleted) as (l: object, n: number) => void;
    (metrics.deleted as { inc: unknown }).inc = (labels: object, n: number) => {
      inc(labels, n);
      shutdown.abort(new Error("shutdown"));
    };
    const deps = { sql, log: silentLogger(), metrics, now: () => NOW };
    const ages = {
      anomaly_events: 0,
      notifier_digests: 0,
      notification_attempts: 0,
      notifier_alerts: 30 * DAY,
      silences: 30 * DAY,
    };
    const report = await runRetention(deps, { ages, batchSize: 10, maxBatches: 100 }, {
      signal: shutdown.signal,
    });
    assert.deepEqual(report?.deleted, { notifier_alerts: 10 });
    // Before: recorded "done" with nothing unfinished, though 15 alerts and the silence were left.
    const run = await latestRetentionRun(sql);
    assert.equal(run?.outcome, "interrupted");
    assert.deepEqual(run?.unfinished, ["notifier_alerts", "silences"]);
    assert.match(await registry.render(), /vigil_retention_runs_total\{outcome="interrupted"\} 1/);
    // The next run (the next start's) finishes the work and is done.
    const next = await runRetention(
      { ...deps, metrics: createRetentionMetrics(new Registry()) },
      { ages, batchSize: 10, maxBatches: 100 },
    );
    assert.deepEqual(next, {
      deleted: { notifier_alerts: 15, silences: 1 },
      unfinished: [],
      failed: [],
    });
    assert.equal((await latestRetentionRun(sql))?.outcome, "done");
  });
});

Deno.test("recordRetentionRun() keeps only the last N runs", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    for (let i = 0; i < 5; i++) {
      const at = new Date(NOW + i * 1000).toISOString();
      await recordRetentionRun(sql, {
        started_at: at,
        finished_at: at,
        outcome: "done",
        deleted: { silences: i },
        unfinished: [],
        ages_ms: {},
        interval_ms: null,
      }, 3);
    }
    const rows = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM retention_runs`;
    assert.equal(rows[0]!.n, 3);
    assert.equal((await latestRetentionRun(sql))?.deleted.silences, 4);
  });
});

Deno.test("a run recorded after the clock was set back is the latest and is kept", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    const record = (at: number, n: number) =>
      recordRetentionRun(sql, {
        started_at: new Date(at).toISOString(),
        finished_at: new Date(at + 1000).toISOString(),
        outcome: "done",
        deleted: { silences: n },
        unfinished: [],
        ages_ms: {},
        interval_ms: 3_600_000,
      }, 3);
    for (let i = 0; i < 3; i++) await record(NOW + i * 3_600_000, i);
    // The notifier's clock is set back a day (NTP correction, a host restored from a snapshot).
    await record(NOW - DAY, 99);
    // Before: the old runs came first by started_at; the new one was deleted by its own write.
    assert.equal((await latestRetentionRun(sql))?.deleted.silences, 99);
    const rows = await sql<{ n: number }[]>`
      SELECT (deleted->>'silences')::int AS n FROM retention_runs ORDER BY id`;
    assert.deepEqual(rows.map((r) => r.n), [1, 2, 99]);
  });
});

Deno.test("a table retention cannot prune (missing) is named in the failed run's record", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await sql`INSERT INTO silences (id, matchers, starts_at, ends_at, author)
      VALUES ('s-old', '{}', ${new Date(NOW - 40 * DAY)}, ${new Date(NOW - 31 * DAY)}, 't')`;
    // Renamed by hand (or a restore that left it out): every batch of it fails.
    await sql`ALTER TABLE notification_attempts RENAME TO notification_attempts_gone`;
    const report = await runRetention(
      {
        sql,
        log: silentLogger(),
        metrics: createRetentionMetrics(new Registry()),
        now: () => NOW,
      },
      { ages: { silences: 30 * DAY }, batchSize: 10, maxBatches: 5, intervalMs: 3_600_000 },
    );
    // The other tables are pruned.
    assert.equal(report?.deleted.silences, 1);
    const run = await latestRetentionRun(sql);
    assert.equal(run?.outcome, "failed");
    // Before: "failed" with no table named (only the notifier's log said which).
    assert.deepEqual(run?.failed, ["notification_attempts"]);
    assert.deepEqual(run?.unfinished, []);
  });
});
