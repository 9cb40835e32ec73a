/**
 * The rules file (`detector/rules.json`): thresholds, windows, severities and
 * cooldowns of every rule, validated with zod. Every field has a default, so
 * `{}` is a valid file; durations accept `180000`, `"3m"`, `"90s"`.
 *
 * Every object of the file is strict: a key it does not know (a misspelt rule
 * `"error_spik"`, a misspelt setting `"treshold"`) is an error naming it,
 * never a setting silently dropped for its default. Settings that contradict
 * each other so that a rule could never fire (a `min_span` as long as the
 * `window`, a `warning` band above `critical`, a no-data `after` at or past
 * `forget_after`…) are errors naming both fields, and so are thresholds that
 * an ordinary reading passes (a cooldown under 1s, a z-score, band or cpu of 0).
 *
 * @module
 */
import { z } from "zod";
import { durationVar, formatDuration } from "@vigil/shared/config";
import {
  EVENT_TYPES,
  eventName,
  formatZodError,
  LOG_LEVELS,
  PROBLEM_STATUSES,
  TRANSACTION_STATUSES,
} from "@vigil/shared/schemas/event";
import { SEVERITIES } from "@vigil/shared/schemas/alert";
import { duplicateKeyProblem, recordOf } from "@vigil/shared/schemas/duplicate_keys";

/**
 * An object schema that refuses unknown keys, naming them and the keys it
 * knows: `logs: Unrecognized key: "error_spik" (known: error_spike, …)`.
 */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `Unrecognized key${issue.keys.length === 1 ? "" : "s"}: ${
          issue.keys.map((k) => JSON.stringify(k)).join(", ")
        } (known: ${known})`
        : undefined,
  });
}

const severity = z.enum(SEVERITIES);
const count = z.number().int().min(1);
/** A threshold above 0: at 0 an ordinary reading (any cpu or score, an average minute's z) passes it. */
const aboveZero = (max?: number) => {
  const n = z.number().gt(0, "must be above 0 (an ordinary reading would pass it: alerts on all)");
  return max === undefined ? n : n.max(max);
};
const measureName = z.string().regex(/^[a-z_][a-z0-9_]{0,63}$/);
const statuses = TRANSACTION_STATUSES as readonly string[];
/** A transaction status as the bridge writes it (lower case): another never matches. */
const transactionStatus = z.string().refine(
  (s) => statuses.includes(s),
  `is not a transaction status (${statuses.join(", ")})`,
);

/**
 * A list of measures, each at most once: a measure listed twice would be
 * scored twice per reading (the engine learning each point twice) and count
 * as two measures for `entity_score`.
 */
function measureList(min: number) {
  return z.array(measureName).min(min).superRefine((list, ctx) => {
    list.forEach((m, i) => {
      if (list.indexOf(m) !== i) {
        ctx.addIssue({ code: "custom", path: [i], message: `"${m}" is listed twice` });
      }
    });
  });
}

/**
 * A count window: at most a day, since it holds every event it counts (a
 * 90-day error window on a busy service would hold months of events).
 */
const countWindow = durationVar.pipe(
  z.number().min(1).max(86_400_000, "must be at most 24h (1d): the window holds every event in it"),
);

/** A rule's entry: `enabled` (on unless `shape` says otherwise), its settings, its severity. */
function ruleEntry<T extends z.ZodRawShape>(shape: T, sev: "WARNING" | "CRITICAL") {
  return strictObject({
    enabled: z.boolean().default(true),
    ...shape,
    severity: severity.default(sev),
  });
}

function countRule(threshold: number, windowMs: number, sev: "WARNING" | "CRITICAL") {
  const shape = { threshold: count.default(threshold), window: countWindow.default(windowMs) };
  return ruleEntry(shape, sev).prefault({});
}

/**
 * A check that `warning` is at most `critical` (equal is fine: only CRITICAL is raised): else
 * `reading` (at or above critical) is CRITICAL, so WARNING could never be raised.
 */
function warningAtMostCritical(reading: string) {
  return (c: { warning: number; critical: number }, ctx: z.RefinementCtx) => {
    if (c.warning <= c.critical) return;
    ctx.addIssue({
      code: "custom",
      path: ["warning"],
      message:
        `must be at most critical (warning ${c.warning}, critical ${c.critical}): ${reading} is CRITICAL, so WARNING could never be raised`,
    });
  };
}

/**
 * Score bands of the statistical engine (score in 0..1). The defaults are the
 * engine's own calibration (`ENGINE_SCORE_BANDS` in score_engine.ts): 0.5 is
 * its alarm score (the NAB threshold of `docs/statistics.md`), a suppressed
 * repeat alarm within one incident scores 0.3, unremarkable points ~0.03.
 */
const bandsSchema = strictObject({
  warning: aboveZero(1).default(0.5),
  critical: aboveZero(1).default(0.9),
  /** A reading scoring below this clears an active metric_score anomaly. */
  clear: z.number().min(0).max(1).default(0.3),
}).superRefine((b, ctx) => {
  // clear <= warning <= critical (equal is fine: warning = critical raises only CRITICAL).
  warningAtMostCritical("a score at critical")(b, ctx);
  if (b.clear > b.warning) {
    ctx.addIssue({
      code: "custom",
      path: ["clear"],
      message:
        `must be at most warning (clear ${b.clear}, warning ${b.warning}): a score below clear clears the anomaly, so scores between them could never raise it`,
    });
  }
}).prefault({});

/** An entity as the bridge writes one (a service: trimmed, no control character): another never reports. */
const entityName = z.string().superRefine((s, ctx) => {
  const r = eventName(128).safeParse(s);
  const message = !r.success
    ? `is not a name an event can carry: ${r.error.issues[0]?.message}`
    : r.data !== s
    ? `${
      JSON.stringify(s)
    } has spaces around it: the bridge trims service names, so it never reports`
    : undefined;
  if (message) ctx.addIssue({ code: "custom", message });
});

/** No-data watch of one event type's entities (services of logs and metrics, statuses). */
function noDataType() {
  return ruleEntry({
    /** Off by default: one-shot entities (a batch job, the producer's scenario services) would alert. */
    enabled: z.boolean().default(false),
    /** An entity silent this long in event time raises an alert. */
    after: durationVar.pipe(z.number().min(1000)).default(600_000),
  }, "WARNING").prefault({});
}

/** Schema of the `no_data` section. */
const noDataSchema = strictObject({
  logs: noDataType(),
  metrics: noDataType(),
  transactions: noDataType(),
  /**
   * Entries for single entities: their own silence time, or `enabled: false`
   * to leave one out. An entry's entity is watched even when its type's watch
   * is off, from the first event of its stream.
   */
  entities: z.array(strictObject({
    type: z.enum(EVENT_TYPES),
    entity: entityName,
    enabled: z.boolean().default(true),
    after: durationVar.pipe(z.number().min(1000)).optional(),
  })).default([]),
  /** An entity silent this long is forgotten (its alert resolves). */
  forget_after: durationVar.pipe(z.number().min(60_000)).default(86_400_000),
  /** A whole stream quiet this long (wall clock: bridge or producer down) raises one alert. */
  stream: ruleEntry({ after: durationVar.pipe(z.number().min(1000)).default(300_000) }, "CRITICAL")
    .prefault({}),
}).superRefine((c, ctx) => {
  // An entity silent for forget_after is forgotten before the check for `after`:
  // an `after` in use at or past it could never alert (a watch that is off is not checked).
  const tooLate = (after: number, path: (string | number)[]) => {
    if (after < c.forget_after) return;
    ctx.addIssue({
      code: "custom",
      path,
      message: `must be shorter than forget_after (after ${formatDuration(after)}, forget_after ${
        formatDuration(c.forget_after)
      }): a silent entity is forgotten before it could alert`,
    });
  };
  for (const type of EVENT_TYPES) {
    // A type's `after` is also that of its enabled entries that set none.
    const inUse = c[type].enabled ||
      c.entities.some((e) => e.type === type && e.enabled && e.after === undefined);
    if (inUse) tooLate(c[type].after, [type, "after"]);
  }
  const seen = new Map<string, number>();
  c.entities.forEach((e, i) => {
    if (e.enabled && e.after !== undefined) tooLate(e.after, ["entities", i, "after"]);
    // The entity of transactions is the status, lower-cased by the bridge: another never reports.
    if (e.type === "transactions" && !statuses.includes(e.entity)) {
      ctx.addIssue({
        code: "custom",
        path: ["entities", i, "entity"],
        message: `"${e.entity}" is not a transaction status (${
          statuses.join(", ")
        }): the entity of transactions is the status`,
      });
    }
    const key = `${e.type}\u0000${e.entity}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else {
      ctx.addIssue({
        code: "custom",
        path: ["entities", i],
        message: `${e.type} entity "${e.entity}" is listed twice (also at entities.${first})`,
      });
    }
  });
}).prefault({});

/** Schema of the rules file. */
export const rulesConfigSchema = strictObject({
  /** Cooldown per (rule, entity, severity): a sustained condition alerts once per cooldown. */
  cooldown: durationVar.pipe(
    z.number().min(1000, "must be at least 1s (0 alerts on every matching event)"),
  ).default(300_000),
  logs: strictObject({
    error_spike: countRule(20, 180_000, "CRITICAL"),
    failed_message: ruleEntry({
      /** Case-insensitive substring of the log's message. */
      contains: z.string().min(1).default("failed"),
      /** Log levels whose messages are looked at (default: ERROR only). */
      levels: z.array(z.enum(LOG_LEVELS)).min(1, "levels must name at least one level")
        .default(["ERROR"]),
    }, "WARNING").prefault({}),
    user_spike: countRule(10, 180_000, "WARNING"),
  }).prefault({}),
  metrics: strictObject({
    cpu_sustained: ruleEntry({
      /** Every reading in the window must be at or above this (percent). */
      cpu: aboveZero(100).default(80),
      window: countWindow.default(300_000),
      min_readings: count.default(3),
      /** The readings must span at least this long (less than the window). */
      min_span: durationVar.default(240_000),
    }, "WARNING").superRefine((c, ctx) => {
      // The readings are those in (τ − window, τ]: they span less than the window.
      if (c.min_span < c.window) return;
      ctx.addIssue({
        code: "custom",
        path: ["min_span"],
        message: `must be shorter than window (min_span ${formatDuration(c.min_span)}, window ${
          formatDuration(c.window)
        }): the readings in a window span less than the window, so the rule could never fire`,
      });
    }).prefault({}),
    latency_high: ruleEntry({
      /** Fires when latency_ms is strictly above this. */
      latency_ms: aboveZero().default(1000),
    }, "CRITICAL").prefault({}),
    cpu_and_latency: ruleEntry({
      cpu: aboveZero(100).default(80),
      latency_ms: aboveZero().default(1000),
    }, "CRITICAL").prefault({}),
    metric_score: strictObject({
      enabled: z.boolean().default(true),
      /** Numeric fields of a metric reading that are scored, one series per (service, field). */
      measures: measureList(1).default(["cpu", "latency_ms", "error_rate"]),
      bands: bandsSchema,
    }).prefault({}),
    /**
     * One score per service across its measures (as scored by metric_score;
     * off when metric_score is off).
     */
    entity_score: strictObject({
      enabled: z.boolean().default(true),
      /** Fisher's method, or Tippett's minimum p with Šidák's correction. */
      method: z.enum(["fisher", "tippett"]).default("fisher"),
      /** Measures combined (default: every measure metric_score scores). */
      measures: measureList(2).optional(),
      /** Fewest measures a reading must have scored for a combined score. */
      min_measures: z.number().int().min(2).default(2),
      bands: bandsSchema,
    }).prefault({}),
  }).superRefine((m, ctx) => {
    // entity_score combines what metric_score scored: checked while both are on.
    const e = m.entity_score;
    const scored = m.metric_score.measures;
    if (!e.enabled || !m.metric_score.enabled) return;
    let unscored = false;
    e.measures?.forEach((measure, i) => {
      if (scored.includes(measure)) return;
      unscored = true;
      ctx.addIssue({
        code: "custom",
        path: ["entity_score", "measures", i],
        message: `"${measure}" is not in metric_score.measures (${
          scored.join(", ")
        }): entity_score combines only the measures metric_score scores`,
      });
    });
    const combined = e.measures ?? scored;
    if (!unscored && e.min_measures > combined.length) {
      ctx.addIssue({
        code: "custom",
        path: ["entity_score", "min_measures"],
        message:
          `must be at most the number of measures combined (min_measures ${e.min_measures}, ${
            e.measures ? "entity_score.measures" : "metric_score.measures"
          }: ${
            combined.join(", ")
          }): entity_score could never fire (or switch it off: enabled false)`,
      });
    }
  }).prefault({}),
  transactions: strictObject({
    amount_high: ruleEntry({
      /** Fires when amount is strictly above this, in the event's currency. */
      amount: z.number().positive().default(10_000),
      /** Per-currency overrides (ISO 4217 code → threshold). */
      per_currency: recordOf(z.string().regex(/^[A-Z]{3}$/), z.number().positive()).default({}),
    }, "CRITICAL").prefault({}),
    user_frequency: countRule(5, 300_000, "WARNING"),
    status_zscore: strictObject({
      enabled: z.boolean().default(true),
      /** Minutes of baseline before the current minute. */
      baseline_minutes: z.number().int().min(2).max(1440).default(60),
      /** Minutes of history needed before z is trusted. */
      min_history_minutes: z.number().int().min(1).max(1440).default(30),
      warning: aboveZero().default(2.5),
      critical: aboveZero().default(4),
      /** Statuses alerted CRITICAL on any count while there is no baseline yet (lower case, as the bridge writes them). */
      problem_statuses: z.array(transactionStatus).default([...PROBLEM_STATUSES]),
    }).superRefine(warningAtMostCritical("a z above critical")).prefault({}),
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
  // A byte order mark (Notepad's UTF-8) is not JSON; JSON readers may ignore it (RFC 8259 8.1).
  if (text.startsWith("\uFEFF")) text = text.slice(1);
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
