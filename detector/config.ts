/**
 * Detector configuration from the environment (zod, parsed once at start).
 *
 * @module
 */
import { z } from "zod";
import {
  claimIdleVar,
  commonEnv,
  durationBetween,
  durationVar,
  formatDuration,
  intVar,
  parseEnv,
  partitionsEnv,
  pathVar,
  portVar,
} from "@vigil/shared/config";
import { apiTokenVar } from "@vigil/shared/http/bearer";
import { loadRulesConfig, type RulesConfig } from "./core/rules_config.ts";

/** Environment schema of the detector. */
export const detectorEnvSchema = z.object({
  ...commonEnv,
  ...partitionsEnv,
  /** Port of the HTTP server (/health, /metrics, POST /api/alerts/evaluate). */
  DETECTOR_PORT: portVar.default(9103),
  /** This instance's name among the detectors. @default "<hostname>-<pid>" */
  DETECTOR_MEMBER: z.string().regex(/^[\w.:@-]{1,128}$/, "must be 1-128 of [A-Za-z0-9_.:@-]")
    .optional(),
  /** Pending entries of another consumer idle this long are claimed (XAUTOCLAIM). */
  DETECTOR_CLAIM_IDLE: claimIdleVar.default(30_000),
  /** An entry delivered more than this many times is dead-lettered. */
  DETECTOR_MAX_DELIVERIES: intVar(1, 1000).default(5),
  /** Entries read per XREADGROUP (per stream). */
  DETECTOR_BATCH: intVar(1, 50_000).default(500),
  /** XREADGROUP BLOCK timeout. */
  DETECTOR_BLOCK: durationBetween(1, 5000).default(1000),
  /**
   * Bearer token of `POST /api/alerts/evaluate` with `"dispatch": true`
   * (evaluating alone stays open); unset = dispatch answers 503.
   */
  VIGIL_API_TOKEN: apiTokenVar.optional(),
  /** Rules file (JSON, validated with zod). */
  DETECTOR_RULES_FILE: pathVar(["read"], "detector/rules.json (edit it)").default(
    "detector/rules.json",
  ),
  /** Expiry of each recent-scores sorted set. */
  SCORE_TTL: durationVar.pipe(z.number().min(1000, "must be at least 1s")).default(3_600_000),
  /** Scores kept per series. */
  SCORE_KEEP: intVar(1, 100_000).default(500),
  /** Window state is checkpointed at most this often (replayed from the stream after it). */
  DETECTOR_CHECKPOINT_INTERVAL: durationVar.default(5000),
  /** Membership and lease time to live: a dead instance's partitions move this long after it stops. */
  DETECTOR_LEASE_TTL: durationBetween(500, 3_600_000).default(10_000),
  /** Without a checkpoint, windows are rebuilt from this much of the stream before the group's cursor. */
  DETECTOR_REBUILD_WINDOW: durationVar.default(600_000),
  /**
   * A PostgreSQL/Redis write that takes longer fails and is retried; shorter than
   * DETECTOR_LEASE_TTL (at most equal: checked below). @default half of DETECTOR_LEASE_TTL, at most 10s
   */
  DETECTOR_IO_TIMEOUT: durationBetween(100, 600_000).optional(),
  /** Every stream is checked this often for silence (rules.json `no_data.stream`). */
  DETECTOR_NO_DATA_CHECK: durationBetween(100, 3_600_000).default(10_000),
  /** A statistical series without a reading for this long (event time) is forgotten. */
  DETECTOR_SERIES_IDLE_TTL: durationVar.pipe(z.number().min(1000, "must be at least 1s")).default(
    86_400_000,
  ),
  /** Statistical series kept per stream partition (the least recently updated go first). */
  DETECTOR_MAX_SERIES: intVar(1).default(4000),
  /** Entities kept in one count rule's windows per stream partition (the oldest go first). */
  DETECTOR_MAX_WINDOW_ENTITIES: intVar(1).default(150_000),
  /** Approximate MAXLEN of the durable alerts stream. */
  DETECTOR_ALERTS_MAXLEN: intVar(1000).default(100_000),
}).superRefine((e, ctx) => {
  // A write stalled to its timeout just after the lease's last renewal would outlast the lease:
  // another instance takes the partition over while the write may still commit (stored twice).
  const ttl = e.DETECTOR_LEASE_TTL;
  // Equal (the default before 2026-12-06, perhaps spelled out in a manifest) is let through.
  if (e.DETECTOR_IO_TIMEOUT === undefined || e.DETECTOR_IO_TIMEOUT <= ttl) return;
  ctx.addIssue({
    code: "custom",
    path: ["DETECTOR_IO_TIMEOUT"],
    message:
      `must not be longer than DETECTOR_LEASE_TTL (${formatDuration(ttl)}; unset, it is half ` +
      "of it): a write stalled that long would outlast the lease, and another instance could " +
      "store its batch again: lower it or raise DETECTOR_LEASE_TTL",
  });
});

/** Resolved detector configuration. */
export type DetectorConfig = Omit<z.infer<typeof detectorEnvSchema>, "DETECTOR_IO_TIMEOUT"> & {
  DETECTOR_IO_TIMEOUT: number;
};

/** Parse the detector's environment; throws a ConfigError naming the bad variables. */
export function loadDetectorConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Readonly<DetectorConfig> {
  const e = parseEnv("detector", detectorEnvSchema, env);
  const io = e.DETECTOR_IO_TIMEOUT ?? Math.min(10_000, Math.floor(e.DETECTOR_LEASE_TTL / 2));
  return Object.freeze({ ...e, DETECTOR_IO_TIMEOUT: io });
}

/**
 * Why `rules` cannot be rebuilt from `rebuildWindowMs` (`DETECTOR_REBUILD_WINDOW`)
 * of the stream: a count window of a rule that is on is longer, so without a
 * checkpoint it would count only part of its window. Null when they fit.
 */
export function rebuildWindowProblem(rules: RulesConfig, rebuildWindowMs: number): string | null {
  const windows = [
    ["logs.error_spike", rules.logs.error_spike],
    ["logs.user_spike", rules.logs.user_spike],
    ["metrics.cpu_sustained", rules.metrics.cpu_sustained],
    ["transactions.user_frequency", rules.transactions.user_frequency],
  ] as const;
  const [at, rule] = windows.find(([, r]) => r.enabled && r.window > rebuildWindowMs) ?? [];
  if (!rule) return null;
  const [w, r] = [formatDuration(rule.window), formatDuration(rebuildWindowMs)];
  return `${at}.window: must be at most DETECTOR_REBUILD_WINDOW (window ${w}, ` +
    `DETECTOR_REBUILD_WINDOW ${r}): without a checkpoint the windows are rebuilt from only ` +
    `${r} of the stream: shorten the window or raise DETECTOR_REBUILD_WINDOW`;
}

/**
 * The rules file at `path`, validated, whose count windows fit in
 * `rebuildWindowMs`: at start, and on every reload (a file the detector could
 * not start with is refused while it runs too).
 * @throws {TypeError} "Cannot load rules file …" naming the field
 */
export async function loadDetectorRules(path: string, rebuildWindowMs: number) {
  const rules = await loadRulesConfig(path);
  const problem = rebuildWindowProblem(rules, rebuildWindowMs);
  if (problem) throw new TypeError(`Cannot load rules file ${path}: ${problem}`);
  return rules;
}
