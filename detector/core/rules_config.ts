/**
 * The rules file (`detector/rules.json`): thresholds, windows, severities and
 * cooldowns of every rule, validated with zod. Every field has a default, so
 * `{}` is a valid file; durations accept `180000`, `"3m"`, `"90s"`.
 *
 * @module
 */
import { z } from "zod";
import { durationVar } from "@vigil/shared/config";
import { EVENT_TYPES, formatZodError, LOG_LEVELS } from "@vigil/shared/schemas/event";
import { SEVERITIES } from "@vigil/shared/schemas/alert";
import { duplicateKeyProblem } from "@vigil/shared/schemas/hygiene";

const severity = z.enum(SEVERITIES);
const count = z.number().int().min(1);
const measureName = z.string().regex(/^[a-z_][a-z0-9_]{0,63}$/);

/**
 * A count window: at most a day, since it holds every event it counts (a
 * 90-day error window on a busy service would hold months of events).
 */
const countWindow = durationVar.pipe(
  z.number().min(1).max(86_400_000, "must be at most 24h (1d): the window holds every event in it"),
);

function countRule(threshold: number, windowMs: number, sev: "WARNING" | "CRITICAL") {
  return z.object({
    enabled: z.boolean().default(true),
    threshold: count.default(threshold),
    window: countWindow.default(windowMs),
    severity: severity.default(sev),
  }).prefault({});
}

/**
 * Score bands of the statistical engine (score in 0..1). The defaults are the
 * engine's own calibration (`ENGINE_SCORE_BANDS` in score_engine.ts): 0.5 is
 * its alarm score (the NAB threshold of `docs/statistics.md`), a suppressed
 * repeat alarm within one incident scores 0.3, unremarkable points ~0.03.
 */
const bandsSchema = z.object({
  warning: z.number().min(0).max(1).default(0.5),
  critical: z.number().min(0).max(1).default(0.9),
  /** A reading scoring below this clears an active metric_score anomaly. */
  clear: z.number().min(0).max(1).default(0.3),
}).prefault({}).refine((b) => b.clear <= b.warning && b.warning <= b.critical, {
  message: "bands must satisfy clear <= warning <= critical",
});

/** No-data watch of one event type's entities (services of logs and metrics, statuses). */
function noDataType() {
  return z.object({
    /** Off by default: one-shot entities (a batch job, the producer's scenario services) would alert. */
    enabled: z.boolean().default(false),
    /** An entity silent this long in event time raises an alert. */
    after: durationVar.pipe(z.number().min(1000)).default(600_000),
    severity: severity.default("WARNING"),
  }).prefault({});
}

/** Schema of the `no_data` section. */
const noDataSchema = z.object({
  logs: noDataType(),
  metrics: noDataType(),
  transactions: noDataType(),
  /**
   * Entries for single entities: their own silence time, or `enabled: false`
   * to leave one out. An entry's entity is watched even when its type's watch
   * is off, from the first event of its stream.
   */
  entities: z.array(z.object({
    type: z.enum(EVENT_TYPES),
    entity: z.string().min(1).max(256),
    enabled: z.boolean().default(true),
    after: durationVar.pipe(z.number().min(1000)).optional(),
  })).default([]),
  /** An entity silent this long is forgotten (its alert resolves). */
  forget_after: durationVar.pipe(z.number().min(60_000)).default(86_400_000),
  /** A whole stream quiet this long (wall clock: bridge or producer down) raises one alert. */
  stream: z.object({
    enabled: z.boolean().default(true),
    after: durationVar.pipe(z.number().min(1000)).default(300_000),
    severity: severity.default("CRITICAL"),
  }).prefault({}),
}).prefault({});

/** Schema of the rules file. */
export const rulesConfigSchema = z.object({
  /** Cooldown per (rule, entity, severity): a sustained condition alerts once per cooldown. */
  cooldown: durationVar.default(300_000),
  logs: z.object({
    error_spike: countRule(20, 180_000, "CRITICAL"),
    failed_message: z.object({
      enabled: z.boolean().default(true),
      /** Case-insensitive substring of the log's message. */
      contains: z.string().min(1).default("failed"),
      /** Log levels whose messages are looked at (default: ERROR only). */
      levels: z.array(z.enum(LOG_LEVELS)).min(1, "levels must name at least one level")
        .default(["ERROR"]),
      severity: severity.default("WARNING"),
    }).prefault({}),
    user_spike: countRule(10, 180_000, "WARNING"),
  }).prefault({}),
  metrics: z.object({
    cpu_sustained: z.object({
      enabled: z.boolean().default(true),
      /** Every reading in the window must be at or above this (percent). */
      cpu: z.number().min(0).max(100).default(80),
      window: countWindow.default(300_000),
      min_readings: count.default(3),
      /** The readings must span at least this long. */
      min_span: durationVar.default(240_000),
      severity: severity.default("WARNING"),
    }).prefault({}),
    latency_high: z.object({
      enabled: z.boolean().default(true),
      /** Fires when latency_ms is strictly above this. */
      latency_ms: z.number().min(0).default(1000),
      severity: severity.default("CRITICAL"),
    }).prefault({}),
    cpu_and_latency: z.object({
      enabled: z.boolean().default(true),
      cpu: z.number().min(0).max(100).default(80),
      latency_ms: z.number().min(0).default(1000),
      severity: severity.default("CRITICAL"),
    }).prefault({}),
    metric_score: z.object({
      enabled: z.boolean().default(true),
      /** Numeric fields of a metric reading that are scored, one series per (service, field). */
      measures: z.array(measureName).min(1).default(["cpu", "latency_ms", "error_rate"]),
      bands: bandsSchema,
    }).prefault({}),
    /**
     * One score per service across its measures (as scored by metric_score;
     * off when metric_score is off).
     */
    entity_score: z.object({
      enabled: z.boolean().default(true),
      /** Fisher's method, or Tippett's minimum p with Šidák's correction. */
      method: z.enum(["fisher", "tippett"]).default("fisher"),
      /** Measures combined (default: every measure metric_score scores). */
      measures: z.array(measureName).min(2).optional(),
      /** Fewest measures a reading must have scored for a combined score. */
      min_measures: z.number().int().min(2).default(2),
      bands: bandsSchema,
    }).prefault({}),
  }).prefault({}),
  transactions: z.object({
    amount_high: z.object({
      enabled: z.boolean().default(true),
      /** Fires when amount is strictly above this, in the event's currency. */
      amount: z.number().positive().default(10_000),
      /** Per-currency overrides (ISO 4217 code → threshold). */
      per_currency: z.record(z.string().regex(/^[A-Z]{3}$/), z.number().positive()).default({}),
      severity: severity.default("CRITICAL"),
    }).prefault({}),
    user_frequency: countRule(5, 300_000, "WARNING"),
    status_zscore: z.object({
      enabled: z.boolean().default(true),
      /** Minutes of baseline before the current minute. */
      baseline_minutes: z.number().int().min(2).max(1440).default(60),
      /** Minutes of history needed before z is trusted. */
      min_history_minutes: z.number().int().min(1).max(1440).default(30),
      warning: z.number().default(2.5),
      critical: z.number().default(4),
      /** Statuses alerted CRITICAL on any count while there is no baseline yet. */
      problem_statuses: z.array(z.string()).default([
        "denied",
        "failed",
        "reversed",
        "backend_reversed",
      ]),
    }).prefault({}),
  }).prefault({}),
  /** Entities or whole streams that stop reporting (no_data.ts, stream_silence.ts). */
  no_data: noDataSchema,
});

/** Resolved rules configuration. */
export type RulesConfig = z.infer<typeof rulesConfigSchema>;

/** The defaults (same as an empty rules file). */
export const DEFAULT_RULES: RulesConfig = rulesConfigSchema.parse({});

/**
 * Validate a decoded rules file.
 * @throws {TypeError} naming each bad field
 */
export function parseRulesConfig(value: unknown, source = "rules config"): RulesConfig {
  const result = rulesConfigSchema.safeParse(value);
  if (!result.success) {
    throw new TypeError(`Cannot load ${source}: ${formatZodError(result.error)}`);
  }
  return result.data;
}

/**
 * Read and validate the rules file at `path`.
 * @throws {TypeError} when the file is missing, not JSON or invalid
 */
export async function loadRulesConfig(path: string): Promise<RulesConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new TypeError(`Cannot load rules file ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`Cannot load rules file ${path}: not JSON: ${(error as Error).message}`);
  }
  const duplicate = duplicateKeyProblem(text);
  if (duplicate) throw new TypeError(`Cannot load rules file ${path}: ${duplicate}`);
  return parseRulesConfig(value, `rules file ${path}`);
}
