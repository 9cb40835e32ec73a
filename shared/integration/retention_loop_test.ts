/**
 * The retention loop against a real PostgreSQL: a run that left tables
 * unfinished (its batch budget spent) is followed by a catch-up run after a
 * short pause rather than a whole interval, until the backlog is gone; with
 * several instances the advisory lock still lets one run at a time.
 */
import assert from "node:assert/strict";
import { withPg } from "@vigil/tools/testing/pg";
import type { Sql } from "@vigil/tools/testing/pg";
import { waitFor } from "@vigil/tools/testing/wait";
import { silentLogger } from "@vigil/tools/testing/log";
import { Registry } from "../metrics.ts";
import { migrate } from "../migrate.ts";
import { createRetentionMetrics, type RetentionDeps, runRetentionLoop } from "../retention/run.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Only notifier_alerts is pruned (30 days). */
const AGES = {
  anomaly_events: 0,
  notifier_digests: 0,
  notification_attempts: 0,
  notifier_alerts: 30 * DAY,
  silences: 0,
};

function deps(sql: Sql): RetentionDeps & { registry: Registry } {
  const registry = new Registry();
  return {
    sql,
    log: silentLogger(),
    metrics: createRetentionMetrics(registry),
    now: Date.now,
    registry,
  };
}

async function oldAlerts(sql: Sql, n: number): Promise<void> {
  const ids = Array.from({ length: n }, (_, i) => `${i}-0`);
  await sql`INSERT INTO notifier_alerts (stream_id, alert_id, status, type, rule, severity, entity,
    alert, disposition, received_at)
    SELECT id, 'a', 'firing', 'metrics', 'r', 'WARNING', 'e', '{}', 'grouped',
      now() - interval '40 days'
    FROM unnest(${ids}::text[]) AS id`;
}

async function left(sql: Sql): Promise<number> {
  return (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM notifier_alerts`)[0]!.n;
}

async function runs(sql: Sql) {
  return await sql<{ started_at: Date; finished_at: Date; outcome: string; deleted: number }[]>`
    SELECT started_at, finished_at, outcome, (deleted->>'notifier_alerts')::int AS deleted
    FROM retention_runs ORDER BY id`;
}

Deno.test("runRetentionLoop() follows a run that spent its batch budget with catch-up runs, not the interval", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await oldAlerts(sql, 45);
    const d = deps(sql);
    const controller = new AbortController();
    const config = { enabled: true, intervalMs: HOUR, batchSize: 10, maxBatches: 2, ages: AGES };
    const loop = runRetentionLoop(d, config, {
      signal: controller.signal,
      firstDelayMs: 0,
      catchUpPauseMs: 50,
    });
    try {
      // 20 rows per run: three runs, the last two catch-ups. Before: one run, then an hour.
      // The last run's record is written after its deletions: both awaited.
      await waitFor(async () => (await left(sql)) === 0 && (await runs(sql)).length === 3, {
        timeoutMs: 10_000,
        what: "the backlog worked off and its three runs recorded",
      });
      const recorded = await runs(sql);
      assert.deepEqual(recorded.map((r) => r.deleted), [20, 20, 5]);
      // A run that finished every table waits the interval again: no fourth run.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await runs(sql)).length, 3);
    } finally {
      controller.abort(new Error("stop"));
      await loop;
    }
  });
});

Deno.test("runRetentionLoop() catch-up waits at least as long as the run took", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await oldAlerts(sql, 25);
    let t = Date.now();
    // Each reading of the clock moves it 1 s: the run "took" seconds, so its catch-up
    // pause (as long as the run) is seconds too, well after the minimum of 50 ms.
    const d = { ...deps(sql), now: () => (t += 1000) };
    const controller = new AbortController();
    const config = { enabled: true, intervalMs: HOUR, batchSize: 10, maxBatches: 2, ages: AGES };
    const loop = runRetentionLoop(d, config, {
      signal: controller.signal,
      firstDelayMs: 0,
      catchUpPauseMs: 50,
    });
    try {
      await waitFor(async () => (await runs(sql)).length === 1, { timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal((await runs(sql)).length, 1, "the catch-up came before its pause");
      assert.equal(await left(sql), 5);
    } finally {
      controller.abort(new Error("stop"));
      await loop;
    }
  });
});

Deno.test("runRetentionLoop() catch-up runs of several instances still run one at a time", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await oldAlerts(sql, 100);
    const instances = [deps(sql), deps(sql), deps(sql)];
    const controller = new AbortController();
    const config = { enabled: true, intervalMs: HOUR, batchSize: 5, maxBatches: 2, ages: AGES };
    const loops = instances.map((d, i) =>
      runRetentionLoop(d, config, {
        signal: controller.signal,
        firstDelayMs: i * 5,
        catchUpPauseMs: 5,
      })
    );
    try {
      await waitFor(async () => (await left(sql)) === 0, {
        timeoutMs: 15_000,
        what: "the backlog worked off",
      });
    } finally {
      controller.abort(new Error("stop"));
      await Promise.all(loops);
    }
    const recorded = await runs(sql);
    // Every row deleted once, in runs of at most 10, that never overlapped.
    assert.equal(recorded.reduce((a, r) => a + r.deleted, 0), 100);
    assert.ok(recorded.every((r) => r.deleted <= 10 && r.outcome === "done"));
    assert.ok(recorded.length >= 10, `${recorded.length} runs`);
    const byStart = [...recorded].sort((a, b) => +a.started_at - +b.started_at);
    for (let i = 1; i < byStart.length; i++) {
      assert.ok(
        byStart[i]!.started_at >= byStart[i - 1]!.finished_at,
        `run ${i} started before run ${i - 1} finished`,
      );
    }
  });
});

Deno.test("runRetentionLoop() tries a run that failed again after a short pause, not the interval", async () => {
  await withPg(async ({ sql }) => {
    await migrate(sql);
    await oldAlerts(sql, 5);
    // PostgreSQL out of reach for the first run: its session cannot be had.
    let refused = 0;
    const flaky = new Proxy(sql, {
      get(target, key, receiver) {
        if (key === "reserve" && refused === 0) {
          refused++;
          return () =>
            Promise.reject(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
        }
        return Reflect.get(target, key, receiver);
      },
    });
    const d = { ...deps(sql), sql: flaky };
    const controller = new AbortController();
    const config = { enabled: true, intervalMs: HOUR, batchSize: 10, maxBatches: 2, ages: AGES };
    const loop = runRetentionLoop(d, config, {
      signal: controller.signal,
      firstDelayMs: 0,
      failedPauseMs: 50,
    });
    try {
      // Before: the failed run was followed by the next an hour later.
      await waitFor(async () => (await left(sql)) === 0 && (await runs(sql)).length === 1, {
        timeoutMs: 10_000,
        what: "the run after the failed one, recorded",
      });
      assert.equal(refused, 1);
      assert.deepEqual((await runs(sql)).map((r) => [r.outcome, r.deleted]), [["done", 5]]);
      assert.match(await d.registry.render(), /vigil_retention_runs_total\{outcome="failed"\} 1/);
    } finally {
      controller.abort(new Error("stop"));
      await loop;
    }
  });
});
