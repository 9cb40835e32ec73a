/**
 * The retention run: deletes rows older than each table's age
 * (`RETENTION_POLICIES` in policy.ts) in bounded batches, one short transaction per
 * batch, so it never holds many locks nor blocks the services' writes:
 *
 * - one owner at a time: a run starts only when it takes the session
 *   advisory lock {@link RETENTION_LOCK_ID} (another instance's run is
 *   skipped, not queued);
 * - each batch picks at most `batchSize` rows by the indexed time column,
 *   `FOR UPDATE SKIP LOCKED` (rows a service is writing are left for the next
 *   run rather than waited for), and deletes them by `ctid` (their children
 *   first, by key); `lock_timeout` bounds any other wait;
 * - at most `maxBatches` batches per table per run; the rest waits for the
 *   next run, which then comes after a short catch-up pause rather than the
 *   interval ({@link runRetentionLoop}).
 *
 * Rows deleted are counted in `vigil_retention_deleted_rows_total{table}`;
 * each run that took the lock is recorded in `retention_runs` (runs.ts): done,
 * failed, or interrupted (cut by shutdown).
 *
 * @module
 */
import type postgres from "postgres";
import type { Logger } from "../log.ts";
import type { Counter, Registry } from "../metrics.ts";
import { sleep } from "../lifecycle.ts";
import {
  failedRunDelayMs,
  nextRetentionDelayMs,
  type RetentionConfig,
  retentionCutoffs,
  type RetentionPolicy,
} from "./policy.ts";
import { recordRetentionRun } from "./runs.ts";

/** Session advisory lock held by the instance that runs retention. */
export const RETENTION_LOCK_ID = 7_131_912; // arbitrary, constant: "vigil retention"

/** Metrics of retention runs. */
export interface RetentionMetrics {
  deleted: Counter;
  runs: Counter;
}

/** Register retention's metrics on `registry`. */
export function createRetentionMetrics(registry: Registry): RetentionMetrics {
  return {
    deleted: registry.counter(
      "vigil_retention_deleted_rows_total",
      "Rows deleted by retention, by table.",
      ["table"],
    ),
    runs: registry.counter(
      "vigil_retention_runs_total",
      "Retention runs by outcome (done, skipped: another instance held the lock, failed, " +
        "interrupted: cut by shutdown).",
      ["outcome"],
    ),
  };
}

/** What a run needs. */
export interface RetentionDeps {
  sql: postgres.Sql;
  log: Logger;
  metrics: RetentionMetrics;
  /** Clock (ms). */
  now: () => number;
}

/** What one run did: rows deleted by table, and whether rows older than the cutoff remain. */
export interface RetentionReport {
  deleted: Record<string, number>;
  /** Tables whose batch budget ran out before their old rows did, or that shutdown cut. */
  unfinished: string[];
  /** Tables whose batch failed (a lock not had within 5 s, a lost connection). */
  failed: string[];
}

/** Most time a batch waits for a lock before giving up until the next run. */
const LOCK_TIMEOUT = "5s";

/** `<table> WHERE <rows older than $1 that retention may delete>`. */
const oldRows = (p: RetentionPolicy) =>
  `${p.table} WHERE ${p.column} < $1${p.where ? ` AND (${p.where})` : ""}`;

async function deleteBatch(
  sql: postgres.Sql,
  policy: RetentionPolicy,
  cutoff: Date,
  limit: number,
): Promise<Record<string, number>> {
  const keyCol = policy.children?.length ? `, ${policy.key} AS key` : "";
  return await sql.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    const rows = await tx.unsafe<{ ctid: string; key?: string }[]>(
      `SELECT ctid::text AS ctid${keyCol} FROM ${oldRows(policy)}
        ORDER BY ${policy.column} LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [cutoff, limit],
    );
    const counts: Record<string, number> = { [policy.table]: 0 };
    if (rows.length === 0) return counts;
    const keys = rows.map((r) => String(r.key));
    for (const child of policy.children ?? []) {
      const done = await tx.unsafe(
        `DELETE FROM ${child.table} WHERE ${child.column} = ANY($1::text[])`,
        [keys],
      );
      counts[child.table] = done.count;
    }
    const done = await tx.unsafe(
      `DELETE FROM ${policy.table} WHERE ctid = ANY($1::tid[])`,
      [rows.map((r) => r.ctid)],
    );
    counts[policy.table] = done.count;
    return counts;
  });
}

/** Whether `policy.table` still holds a row retention would delete at `cutoff`. */
async function hasOldRows(sql: postgres.Sql, policy: RetentionPolicy, cutoff: Date) {
  const rows = await sql.unsafe(`SELECT 1 FROM ${oldRows(policy)} LIMIT 1`, [cutoff]);
  return rows.length > 0;
}

/**
 * Prune one table: batches until none is full, the budget is spent or `signal` aborts.
 * Added to `report.unfinished` when the budget ran out with old rows left, or the signal aborted.
 *
 * @returns false when `signal` aborted before the table was done
 */
async function pruneTable(
  deps: RetentionDeps,
  policy: RetentionPolicy,
  cutoff: Date,
  config: Pick<RetentionConfig, "batchSize" | "maxBatches">,
  report: RetentionReport,
  signal?: AbortSignal,
): Promise<boolean> {
  for (let batch = 0;; batch++) {
    if (signal?.aborted) {
      // Shutdown: whatever is left waits for the next run, and the record says so.
      report.unfinished.push(policy.table);
      return false;
    }
    if (batch >= config.maxBatches) {
      // The last batch was full: unfinished only if old rows are left (not when it took the last).
      if (await hasOldRows(deps.sql, policy, cutoff)) report.unfinished.push(policy.table);
      return true;
    }
    const counts = await deleteBatch(deps.sql, policy, cutoff, config.batchSize);
    for (const [table, n] of Object.entries(counts)) {
      report.deleted[table] = (report.deleted[table] ?? 0) + n;
      if (n > 0) deps.metrics.deleted.inc({ table }, n);
    }
    if ((counts[policy.table] ?? 0) < config.batchSize) return true;
  }
}

/**
 * One retention run over every table with a non-zero age, if this instance
 * takes the lock. A table whose batch fails (a lock not had within 5 s, a
 * lost connection) is logged and left for the next run; the others go on.
 * The record names the failed tables (`failed`).
 * When `signal` aborts (shutdown) the run stops after its current batch and
 * is recorded `interrupted`, with the tables it did not finish in `unfinished`.
 *
 * @returns the report, or `null` when another instance holds the lock
 */
export async function runRetention(
  deps: RetentionDeps,
  config:
    & Pick<RetentionConfig, "ages" | "batchSize" | "maxBatches">
    & Partial<Pick<RetentionConfig, "intervalMs">>,
  options: { signal?: AbortSignal; policies?: readonly RetentionPolicy[] } = {},
): Promise<RetentionReport | null> {
  const session = await deps.sql.reserve();
  try {
    const [got] = await session<{ locked: boolean }[]>`
      SELECT pg_try_advisory_lock(${RETENTION_LOCK_ID}) AS locked`;
    if (!got?.locked) {
      deps.metrics.runs.inc({ outcome: "skipped" });
      return null;
    }
    try {
      const startedAt = new Date(deps.now()).toISOString();
      const report: RetentionReport = { deleted: {}, unfinished: [], failed: [] };
      let interrupted = false;
      const cutoffs = retentionCutoffs(config.ages, deps.now(), options.policies);
      for (const { policy, cutoff } of cutoffs) {
        try {
          const whole = await pruneTable(deps, policy, cutoff, config, report, options.signal);
          if (!whole) interrupted = true;
        } catch (error) {
          report.failed.push(policy.table);
          deps.log.warn("cannot prune table, left for the next run", {
            table: policy.table,
            error,
          });
        }
      }
      const outcome = report.failed.length ? "failed" : interrupted ? "interrupted" : "done";
      deps.metrics.runs.inc({ outcome });
      try {
        await recordRetentionRun(deps.sql, {
          started_at: startedAt,
          finished_at: new Date(deps.now()).toISOString(),
          outcome,
          deleted: report.deleted,
          unfinished: report.unfinished,
          failed: report.failed,
          ages_ms: { ...config.ages },
          interval_ms: config.intervalMs ?? null,
        });
      } catch (error) {
        deps.log.warn("cannot record the retention run", { error });
      }
      return report;
    } finally {
      await session`SELECT pg_advisory_unlock(${RETENTION_LOCK_ID})`;
    }
  } finally {
    session.release();
  }
}

/**
 * Run retention every `intervalMs` until `signal` aborts (first run after
 * `firstDelayMs`, so a restart loop does not prune at every start). A run that
 * left tables unfinished (batch budget spent) is followed by a catch-up run
 * after a pause as long as it took (at least `catchUpPauseMs`, at most the
 * interval: {@link nextRetentionDelayMs}), until none is left; a run skipped
 * for another instance's lock waits the interval (that instance catches up). A run that
 * failed (PostgreSQL out of reach), or failed for some tables, is tried again after
 * `failedPauseMs` (a minute; at most the interval): it used to wait the whole interval.
 */
export async function runRetentionLoop(
  deps: RetentionDeps,
  config: RetentionConfig,
  options: {
    signal: AbortSignal;
    firstDelayMs?: number;
    catchUpPauseMs?: number;
    failedPauseMs?: number;
  },
): Promise<void> {
  const { signal } = options;
  let delay = options.firstDelayMs ?? Math.min(config.intervalMs, 60_000);
  while (!signal.aborted) {
    try {
      await sleep(delay, signal);
    } catch {
      return; // aborted
    }
    delay = config.intervalMs;
    try {
      const started = deps.now();
      const report = await runRetention(deps, config, { signal });
      if (report === null) {
        deps.log.debug("retention skipped: another instance runs it");
        continue;
      }
      const tookMs = deps.now() - started;
      delay = nextRetentionDelayMs(
        { unfinished: report.unfinished, tookMs, failed: report.failed },
        config.intervalMs,
        options.catchUpPauseMs,
        options.failedPauseMs,
      );
      if (
        Object.values(report.deleted).some((n) => n > 0) || report.unfinished.length ||
        report.failed.length
      ) {
        deps.log.info("retention deleted old rows", { ...report, next_run_in_ms: delay });
      }
    } catch (error) {
      deps.metrics.runs.inc({ outcome: "failed" });
      delay = failedRunDelayMs(config.intervalMs, options.failedPauseMs);
      deps.log.warn("retention run failed", { error, next_run_in_ms: delay });
    }
  }
}
