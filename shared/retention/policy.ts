/**
 * What retention deletes, and when: the tables that grow with traffic, the
 * time column each is aged by, the rows that must stay whatever their age,
 * and the environment variables that set each age. Pure: the cutoffs come
 * from a clock passed in.
 *
 * | variable                          | table (and rows deleted with it)                      | default |
 * | --------------------------------- | ----------------------------------------------------- | ------- |
 * | `RETENTION_ANOMALY_EVENTS`        | `anomaly_events` (resolved, resolution published)    | 90d     |
 * | `RETENTION_NOTIFICATIONS`         | `notifier_digests` + `notifications`, `notifier_digest_entries` (none pending) | 90d |
 * | `RETENTION_NOTIFICATION_ATTEMPTS` | `notification_attempts`                              | 30d     |
 * | `RETENTION_NOTIFIER_ALERTS`       | `notifier_alerts`                                    | 30d     |
 * | `RETENTION_SILENCES`              | `silences` (ended or expired that long ago)          | 30d     |
 *
 * @module
 */
import { z } from "zod";
import { boolVar, durationVar, intVar } from "../config.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Rows of another table that go with each deleted row (deleted first, counted on their own). */
export interface RetentionChild {
  table: string;
  /** Column of the child that holds the parent's {@link RetentionPolicy.key}. */
  column: string;
}

/** One table retention ages. */
export interface RetentionPolicy {
  table: string;
  /** The environment variable of its age. */
  env: string;
  /** Indexed time column; rows older than the cutoff are candidates. */
  column: string;
  /** Extra SQL condition every deleted row must meet too (`$1` is the cutoff). */
  where?: string;
  /** Key column the children reference (with `children`). */
  key?: string;
  children?: readonly RetentionChild[];
  /** Age in ms when the variable is unset. */
  defaultAgeMs: number;
}

/**
 * Every table retention looks after, in the order they are pruned. Identifiers
 * and conditions here are constants of the code, never input.
 */
export const RETENTION_POLICIES: readonly RetentionPolicy[] = [
  {
    table: "anomaly_events",
    env: "RETENTION_ANOMALY_EVENTS",
    column: "detected_at",
    // Open (still firing) anomalies stay, and so do those whose resolution the
    // detector has not yet published (its recovery re-reads them).
    where: "resolved_at IS NOT NULL AND resolved_at < $1 AND resolved_published_at IS NOT NULL",
    defaultAgeMs: 90 * DAY,
  },
  {
    table: "notifier_digests",
    env: "RETENTION_NOTIFICATIONS",
    column: "created_at",
    // A digest with a channel still being retried stays until it is sent or given up.
    where: "NOT EXISTS (SELECT 1 FROM notifications n " +
      "WHERE n.digest_id = notifier_digests.id AND n.status = 'pending')",
    key: "id",
    children: [
      { table: "notifications", column: "digest_id" },
      { table: "notifier_digest_entries", column: "digest_id" },
    ],
    defaultAgeMs: 90 * DAY,
  },
  {
    table: "notification_attempts",
    env: "RETENTION_NOTIFICATION_ATTEMPTS",
    column: "at",
    defaultAgeMs: 30 * DAY,
  },
  {
    table: "notifier_alerts",
    env: "RETENTION_NOTIFIER_ALERTS",
    column: "received_at",
    defaultAgeMs: 30 * DAY,
  },
  {
    table: "silences",
    env: "RETENTION_SILENCES",
    column: "ends_at",
    defaultAgeMs: 30 * DAY,
  },
];

const AGE_RULE = "must be 0 (keep forever) or at least 1h, with a unit (e.g. 30d, 720h)";

/**
 * An age: 0 keeps the table forever, anything else is at least an hour and
 * has a unit. A bare number would be milliseconds: `7776000` meant as 90 days
 * in seconds would delete everything older than 2 hours.
 */
const ageVar = z.string().refine(
  (s) => !/^\s*\d+(?:\.\d+)?\s*$/.test(s) || Number(s) === 0,
  AGE_RULE,
)
  .transform((s, ctx) => {
    const parsed = durationVar.safeParse(s);
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: "custom", message: parsed.error.issues[0]?.message ?? AGE_RULE });
    return z.NEVER;
  })
  .refine((ms) => ms === 0 || ms >= HOUR, AGE_RULE);

/** Retention's environment variables (the owner, the notifier, spreads them into its schema). */
export const retentionEnv = {
  /** Run retention in this process (the notifier; one instance at a time through a lock). */
  RETENTION_ENABLED: boolVar.default(true),
  /** Time between runs. */
  RETENTION_INTERVAL: durationVar.refine(
    (ms) => ms >= 60_000 && ms <= 7 * DAY,
    "must be between 1m and 7d",
  ).default(HOUR),
  /** Rows deleted per statement (one short transaction each). */
  RETENTION_BATCH_SIZE: intVar(1, 100_000).default(1000),
  /** Most batches per table and run (what is left waits for the next run). */
  RETENTION_MAX_BATCHES: intVar(1, 1_000_000).default(100),
  ...Object.fromEntries(
    RETENTION_POLICIES.map((p) => [p.env, ageVar.default(p.defaultAgeMs)]),
  ) as Record<string, z.ZodDefault<typeof ageVar>>,
};

/** Retention settings, resolved. */
export interface RetentionConfig {
  enabled: boolean;
  intervalMs: number;
  batchSize: number;
  maxBatches: number;
  /** Age in ms by table name; 0 = keep forever. */
  ages: Readonly<Record<string, number>>;
}

/** Resolve {@link retentionEnv}'s parsed values. */
export function retentionConfig(env: Record<string, unknown>): RetentionConfig {
  const num = (k: string) => {
    const v = env[k];
    if (typeof v !== "number") throw new TypeError(`Cannot configure retention: ${k} is missing`);
    return v;
  };
  return {
    enabled: env.RETENTION_ENABLED !== false,
    intervalMs: num("RETENTION_INTERVAL"),
    batchSize: num("RETENTION_BATCH_SIZE"),
    maxBatches: num("RETENTION_MAX_BATCHES"),
    ages: Object.fromEntries(RETENTION_POLICIES.map((p) => [p.table, num(p.env)])),
  };
}

/** A table to prune now, and the instant before which its rows go. */
export interface RetentionCutoff {
  policy: RetentionPolicy;
  cutoff: Date;
}

/** The cutoff of every table with a non-zero age, at `now` (ms). */
export function retentionCutoffs(
  ages: Readonly<Record<string, number>>,
  now: number,
  policies: readonly RetentionPolicy[] = RETENTION_POLICIES,
): RetentionCutoff[] {
  const out: RetentionCutoff[] = [];
  for (const policy of policies) {
    const age = ages[policy.table] ?? policy.defaultAgeMs;
    if (age > 0) out.push({ policy, cutoff: new Date(now - age) });
  }
  return out;
}

/** Shortest pause before a catch-up run (after a run that left tables unfinished). */
export const CATCH_UP_PAUSE_MS = 10_000;

/** Pause before trying again after a run that failed, or failed for some tables. */
export const FAILED_RUN_PAUSE_MS = 60_000;

/**
 * Time to the next run after one that failed, for some tables or as a whole (a lock not had, a
 * connection lost): `failedPauseMs`, at most the interval; tried again in a minute, not an hour.
 */
export function failedRunDelayMs(
  intervalMs: number,
  failedPauseMs: number = FAILED_RUN_PAUSE_MS,
): number {
  return Math.min(intervalMs, failedPauseMs);
}

/**
 * Time from the end of a run to the next one: the interval after a run that finished every
 * table; after one that left tables unfinished (batch budget spent), a catch-up pause as long
 * as the run took, at least `minPauseMs` and at most the interval. So a table that grows faster
 * than one run's budget per interval is worked off, while retention deletes at most about half
 * the time. After a run that failed for some tables, `failedPauseMs` (at most the interval).
 */
export function nextRetentionDelayMs(
  run: { unfinished: readonly string[]; tookMs: number; failed?: readonly string[] },
  intervalMs: number,
  minPauseMs: number = CATCH_UP_PAUSE_MS,
  failedPauseMs: number = FAILED_RUN_PAUSE_MS,
): number {
  if (run.failed?.length) return failedRunDelayMs(intervalMs, failedPauseMs);
  if (run.unfinished.length === 0) return intervalMs;
  return Math.min(intervalMs, Math.max(minPauseMs, run.tookMs));
}
