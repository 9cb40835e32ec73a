/**
 * Retention against a real PostgreSQL, with the clock passed in: what goes,
 * what stays (open anomalies, unpublished resolutions, digests still being
 * sent), bounded batches, one owner through the advisory lock, and rows that
 * services hold locked are skipped rather than waited for.
 */
import assert from "node:assert/strict";
import { withPg } from "@vigil/tools/testing/pg";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "../metrics.ts";
import { migrate } from "../migrate.ts";
import { RETENTION_POLICIES, retentionCutoffs } from "../retention/policy.ts";
import {
  createRetentionMetrics,
  RETENTION_LOCK_ID,
  type RetentionDeps,
  runRetention,
  runRetentionLoop,
} from "../retention/run.ts";
import type { Sql } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/wait";

const NOW = Date.parse("2026-03-01T00:00:00Z");
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW - days * DAY);
const AGES = {
  anomaly_events: 90 * DAY,
  notifier_digests: 90 * DAY,
  notification_attempts: 30 * DAY,
  notifier_alerts: 30 * DAY,
  silences: 30 * DAY,
};

function deps(sql: Sql): RetentionDeps & { registry: Registry } {
  const registry = new Registry();
  return {
    sql,
    log: silentLogger(),
    metrics: createRetentionMetrics(registry),
    now: () => NOW,
    registry,
  };
}

async function counterValues(registry: Registry, name: string): Promise<Record<string, number>> {
  const text = await registry.render();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}\\{\\w+="(\\w+)"\\} (\\d+)$`, "gm"))) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function anomaly(
  sql: Sql,
  id: string,
  detected: Date,
  resolved: Date | null,
  published: boolean,
): Promise<void> {
  await sql`INSERT INTO anomaly_events (id, detected_at, event_time, type, rule, severity, entity,
    title, message, resolved_at, published_at, resolved_published_at)
    VALUES (${id}, ${detected}, ${detected}, 'metrics', 'cpu_high', 'WARNING', 'api', 't', 'm',
      ${resolved}, ${detected}, ${published && resolved ? resolved : null})`;
}

async function digest(sql: Sql, id: string, created: Date, status: string): Promise<void> {
  await sql`INSERT INTO notifier_digests (id, kind, route, group_key, created_at, alert_ids, digest)
    VALUES (${id}, 'digest', 'default', 'g', ${created}, ${["a"]}, '{}')`;
  await sql`INSERT INTO notifier_digest_entries (stream_id, digest_id)
    VALUES (${id + "-1"}, ${id}), (${id + "-2"}, ${id})`;
  await sql`INSERT INTO notifications (digest_id, channel, alert_ids, alert_count, status, created_at)
    VALUES (${id}, 'email', ${["a"]}, 1, ${status}, ${created})`;
}

async function notifierAlert(sql: Sql, streamId: string, received: Date): Promise<void> {
  await sql`INSERT INTO notifier_alerts (stream_id, alert_id, status, type, rule, severity, entity,
    alert, disposition, received_at)
    VALUES (${streamId}, 'a', 'firing', 'metrics', 'r', 'WARNING', 'e', '{}', 'grouped', ${received})`;
}

async function ids(sql: Sql, table: string, column: string): Promise<string[]> {
  return (await sql.unsafe<{ v: string }[]>(`SELECT ${column}::text AS v FROM ${table} ORDER BY 1`))
    .map((r) => r.v);
}

Deno.test("runRetention() deletes old rows of every table and keeps what must stay", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await anomaly(sql, "old-resolved", ago(100), ago(99), true);
    await anomaly(sql, "old-open", ago(100), null, false);
    await anomaly(sql, "old-unpublished-resolution", ago(100), ago(99), false);
    await anomaly(sql, "old-recently-resolved", ago(100), ago(10), true);
    await anomaly(sql, "new", ago(10), ago(9), true);
    await digest(sql, "d-old", ago(120), "sent");
    await digest(sql, "d-old-pending", ago(120), "pending");
    await digest(sql, "d-new", ago(1), "sent");
    for (const [digestId, at] of [["d-old", ago(40)], ["d-new", ago(1)]] as const) {
      await sql`INSERT INTO notification_attempts (digest_id, channel, attempt, at, ok, duration_ms)
        VALUES (${digestId}, 'email', 1, ${at}, true, 3)`;
    }
    await notifierAlert(sql, "1-0", ago(40));
    await notifierAlert(sql, "2-0", ago(1));
    for (const [id, end] of [["s-old", ago(40)], ["s-new", ago(1)]] as const) {
      await sql`INSERT INTO silences (id, matchers, starts_at, ends_at, author)
        VALUES (${id}, '{}', ${new Date(end.getTime() - DAY)}, ${end}, 'ann')`;
    }

    const d = deps(sql);
    const report = await runRetention(d, { ages: AGES, batchSize: 100, maxBatches: 10 });
    // One old row per table (two digest entries), each counted under its own table.
    const deleted = {
      anomaly_events: 1,
      notifier_digests: 1,
      notifications: 1,
      notifier_digest_entries: 2,
      notification_attempts: 1,
      notifier_alerts: 1,
      silences: 1,
    };
    assert.deepEqual(report, { deleted, unfinished: [], failed: [] });
    assert.deepEqual(await ids(sql, "anomaly_events", "id"), [
      "new",
      "old-open",
      "old-recently-resolved",
      "old-unpublished-resolution",
    ]);
    assert.deepEqual(await ids(sql, "notifier_digests", "id"), ["d-new", "d-old-pending"]);
    assert.deepEqual(await ids(sql, "notifications", "digest_id"), ["d-new", "d-old-pending"]);
    assert.deepEqual(await ids(sql, "notifier_digest_entries", "digest_id"), [
      "d-new",
      "d-new",
      "d-old-pending",
      "d-old-pending",
    ]);
    assert.deepEqual(await ids(sql, "notification_attempts", "digest_id"), ["d-new"]);
    assert.deepEqual(await ids(sql, "notifier_alerts", "stream_id"), ["2-0"]);
    assert.deepEqual(await ids(sql, "silences", "id"), ["s-new"]);
    assert.deepEqual(
      await counterValues(d.registry, "vigil_retention_deleted_rows_total"),
      deleted,
    );
    assert.deepEqual(await counterValues(d.registry, "vigil_retention_runs_total"), { done: 1 });

    // A second run finds nothing more; an age of 0 keeps a table whatever its age.
    const again = await runRetention(d, {
      ages: { ...AGES, anomaly_events: 0 },
      batchSize: 100,
      maxBatches: 10,
    });
    assert.ok(Object.values(again!.deleted).every((n) => n === 0), JSON.stringify(again));
  });
});

Deno.test("runRetention() deletes at most batchSize × maxBatches rows per table and run", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    for (let i = 0; i < 25; i++) await notifierAlert(sql, `${i}-0`, ago(40 + i));
    const d = deps(sql);
    const only = RETENTION_POLICIES.filter((p) => p.table === "notifier_alerts");
    const first = await runRetention(d, { ages: AGES, batchSize: 10, maxBatches: 2 }, {
      policies: only,
    });
    assert.deepEqual(first, {
      deleted: { notifier_alerts: 20 },
      unfinished: ["notifier_alerts"],
      failed: [],
    });
    // Oldest first: the 5 youngest of the old rows remain.
    assert.deepEqual((await ids(sql, "notifier_alerts", "stream_id")).sort(), [
      "0-0",
      "1-0",
      "2-0",
      "3-0",
      "4-0",
    ]);
    const second = await runRetention(d, { ages: AGES, batchSize: 10, maxBatches: 2 }, {
      policies: only,
    });
    assert.deepEqual(second, { deleted: { notifier_alerts: 5 }, unfinished: [], failed: [] });
  });
});

Deno.test("runRetention() does not report a table unfinished when its last full batch took the last old row", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    for (let i = 0; i < 20; i++) await notifierAlert(sql, `${i}-0`, ago(40 + i));
    await notifierAlert(sql, "young-0", ago(1));
    const d = deps(sql);
    const only = RETENTION_POLICIES.filter((p) => p.table === "notifier_alerts");
    const report = await runRetention(d, { ages: AGES, batchSize: 10, maxBatches: 2 }, {
      policies: only,
    });
    assert.deepEqual(report, { deleted: { notifier_alerts: 20 }, unfinished: [], failed: [] });
    assert.deepEqual(await ids(sql, "notifier_alerts", "stream_id"), ["young-0"]);
  });
});

Deno.test("runRetention() is skipped while another instance holds the lock", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await notifierAlert(sql, "1-0", ago(40));
    const other = await sql.reserve();
    try {
      await other`SELECT pg_advisory_lock(${RETENTION_LOCK_ID})`;
      const d = deps(sql);
      assert.equal(await runRetention(d, { ages: AGES, batchSize: 10, maxBatches: 2 }), null);
      assert.deepEqual(await ids(sql, "notifier_alerts", "stream_id"), ["1-0"]);
      assert.deepEqual(await counterValues(d.registry, "vigil_retention_runs_total"), {
        skipped: 1,
      });
      await other`SELECT pg_advisory_unlock(${RETENTION_LOCK_ID})`;
      const report = await runRetention(d, { ages: AGES, batchSize: 10, maxBatches: 2 });
      assert.equal(report?.deleted.notifier_alerts, 1);
    } finally {
      other.release();
    }
  });
});

Deno.test("runRetention() skips rows a writer holds and does not block its inserts", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await anomaly(sql, "held", ago(100), ago(99), true);
    await anomaly(sql, "free", ago(100), ago(99), true);
    const writer = await sql.reserve();
    try {
      // A service's open transaction: it updates one old row and inserts a new one.
      await writer`BEGIN`;
      await writer`UPDATE anomaly_events SET ack_comment = 'x' WHERE id = 'held'`;
      await writer`INSERT INTO anomaly_events (id, event_time, type, rule, severity, entity,
        title, message) VALUES ('fresh', now(), 'logs', 'r', 'INFO', 'e', 't', 'm')`;
      const d = deps(sql);
      const started = performance.now();
      const report = await runRetention(d, { ages: AGES, batchSize: 10, maxBatches: 2 });
      const tookMs = performance.now() - started;
      assert.equal(report?.deleted.anomaly_events, 1);
      assert.ok(tookMs < 4000, `retention waited ${tookMs} ms for a locked row`);
      // The writer goes on while and after retention ran.
      await writer`INSERT INTO anomaly_events (id, event_time, type, rule, severity, entity,
        title, message) VALUES ('fresh-2', now(), 'logs', 'r', 'INFO', 'e', 't', 'm')`;
      await writer`COMMIT`;
    } finally {
      writer.release();
    }
    assert.deepEqual(await ids(sql, "anomaly_events", "id"), ["fresh", "fresh-2", "held"]);
  });
});

Deno.test("runRetentionLoop() runs at once with firstDelayMs 0, then stops on abort", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await notifierAlert(sql, "1-0", ago(40));
    const d = deps(sql);
    const controller = new AbortController();
    const loop = runRetentionLoop(d, {
      enabled: true,
      intervalMs: 3_600_000,
      batchSize: 10,
      maxBatches: 2,
      ages: AGES,
    }, { signal: controller.signal, firstDelayMs: 0 });
    await waitFor(async () =>
      (await counterValues(d.registry, "vigil_retention_runs_total")).done === 1
    );
    controller.abort(new Error("stop"));
    await loop;
    assert.deepEqual(await ids(sql, "notifier_alerts", "stream_id"), []);
  });
});

/** Indexes of `table` (not partial) whose first column is `column`. */
async function leadingIndexes(sql: Sql, table: string, column: string): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    SELECT i.relname AS name
    FROM pg_index x
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
    WHERE t.relname = ${table} AND a.attname = ${column} AND x.indpred IS NULL`;
  return rows.map((r) => r.name);
}

Deno.test("every pruned table has an index that leads with its time column", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    for (const p of retentionCutoffs({}, NOW).map((c) => c.policy)) {
      const own = await leadingIndexes(sql, p.table, p.column);
      assert.ok(own.length > 0, `${p.table} has no index leading with ${p.column}`);
      for (const child of p.children ?? []) {
        const found = await leadingIndexes(sql, child.table, child.column);
        assert.ok(found.length > 0, `${child.table} has no index leading with ${child.column}`);
      }
    }
  });
});
