/**
 * The record of retention runs (`retention_runs`, migrations 076, 078, 079): the runner
 * writes one row per run that took the lock and keeps the last
 * {@link RETENTION_RUNS_KEPT}; the web reads the latest for its System panel.
 *
 * @module
 */
import type postgres from "postgres";
import { z } from "zod";
import { isoTimeSchema as iso } from "../schemas/web_api.ts";

/** Rows kept in `retention_runs` (older ones are deleted by the run that writes). */
export const RETENTION_RUNS_KEPT = 50;

/** One recorded run (also the `last_run` of the web's `GET /api/system/retention`). */
export const retentionRunSchema = z.strictObject({
  started_at: iso,
  finished_at: iso,
  outcome: z.enum(["done", "failed", "interrupted"])
    .meta({ description: "interrupted: cut by shutdown (the tables left are in unfinished)" }),
  deleted: z.record(z.string(), z.number().int()).meta({ description: "Rows deleted by table" }),
  unfinished: z.array(z.string())
    .meta({
      description:
        "Tables whose batch budget ran out or that shutdown cut (the rest waits for the next run)",
    }),
  failed: z.array(z.string())
    .meta({
      description: "Tables that could not be pruned (an error; the notifier's log says which)",
    }),
  ages_ms: z.record(z.string(), z.number().int())
    .meta({ description: "Configured age by table (0 = kept forever)" }),
  interval_ms: z.number().int().nullable().meta({ description: "Time between runs" }),
});
export type RetentionRunRecord = z.infer<typeof retentionRunSchema>;

/**
 * Record a run and delete all but the last `kept` rows, in one transaction. "Last" is by
 * insertion (`id`; runs are one at a time under the lock), not by `started_at`: a clock set
 * back would otherwise make the new run older than the kept ones, and delete it at once.
 */
export async function recordRetentionRun(
  sql: postgres.Sql,
  run: Omit<RetentionRunRecord, "failed"> & { failed?: string[] },
  kept: number = RETENTION_RUNS_KEPT,
): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO retention_runs
        (started_at, finished_at, outcome, deleted, unfinished, failed, ages_ms, interval_ms)
      VALUES (${run.started_at}, ${run.finished_at}, ${run.outcome}, ${tx.json(run.deleted)},
        ${run.unfinished}, ${run.failed ?? []}, ${tx.json(run.ages_ms)}, ${run.interval_ms})`;
    await tx`
      DELETE FROM retention_runs WHERE id NOT IN
        (SELECT id FROM retention_runs ORDER BY id DESC LIMIT ${kept})`;
  });
}

/**
 * A SQL fragment: the instant since when every digest is still stored. Retention deletes digests
 * (`notifier_digests`, with their `notifier_digest_entries`) created before its cutoff, so an alert
 * taken in before it may have lost the digest that told it: "in no digest" says nothing about such
 * an alert. The latest recorded end of a run less its `notifier_digests` age (later than that
 * run's cutoff); `-infinity` when no recorded run prunes digests.
 */
export function digestsKeptSince(sql: postgres.Sql): postgres.PendingQuery<postgres.Row[]> {
  return sql`COALESCE((
    SELECT max(finished_at - (ages_ms->>'notifier_digests')::bigint * interval '1 millisecond')
      FROM retention_runs WHERE (ages_ms->>'notifier_digests')::bigint > 0), '-infinity')`;
}

/** The latest recorded run (the last written), or null when none was recorded yet. */
export async function latestRetentionRun(sql: postgres.Sql): Promise<RetentionRunRecord | null> {
  type Row = Omit<RetentionRunRecord, "started_at" | "finished_at" | "interval_ms"> & {
    started_at: Date;
    finished_at: Date;
    interval_ms: string | null; // bigint
  };
  const [row] = await sql<Row[]>`
    SELECT started_at, finished_at, outcome, deleted, unfinished, failed, ages_ms, interval_ms
      FROM retention_runs ORDER BY id DESC LIMIT 1`;
  if (!row) return null;
  return {
    started_at: row.started_at.toISOString(),
    finished_at: row.finished_at.toISOString(),
    outcome: row.outcome,
    deleted: row.deleted,
    unfinished: row.unfinished,
    failed: row.failed,
    ages_ms: row.ages_ms,
    interval_ms: row.interval_ms === null ? null : Number(row.interval_ms),
  };
}
