/**
 * Configuration from the environment, parsed once at start with zod.
 *
 * Each service declares its own schema (usually `commonEnv` plus its own
 * fields) and calls {@link parseEnv}; the result is a frozen, fully resolved
 * object that is passed down. Nothing else reads `Deno.env`.
 *
 * @module
 */
import { z } from "zod";
import { createLogger, redact } from "./log.ts";
import { MAX_PARTITIONS } from "./partitions.ts";
import { decimalVar, intVar, urlVar } from "./config_values.ts";
import { escapeUnshown } from "./schemas/hygiene.ts";

/** Where `deno task kafka` publishes the dev cluster's bootstrap servers. */
export const KAFKA_BROKERS_FILE = ".vigil/kafka_brokers";

/** A configuration problem; the message says which variable and what to fix. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const LOG_LEVEL_NAMES = ["debug", "info", "warn", "error"] as const;

export { decimalVar, intVar, urlVar };

/** A TCP port 1..65535 (0 lets the OS choose; useful in tests). */
export const portVar = intVar(0, 65535);

/** Milliseconds of each duration unit. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** One `<number><unit>` of a duration, read from where the last one ended. */
const DURATION_PART = /\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/y;

/**
 * A duration's milliseconds (unrounded): bare milliseconds (`500`), or one or more
 * `<number><unit>` in a row, as Prometheus and Alertmanager write them (`30s`, `1.5h`,
 * `1h30m`, `1d 12h`: each unit once, the largest first; `5m5m` was 10 minutes); `undefined`
 * for anything else.
 */
export function parseDurationMs(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s);
  let total = 0;
  for (let i = 0, last = Infinity; i < s.length || i === 0;) {
    DURATION_PART.lastIndex = i;
    const m = DURATION_PART.exec(s);
    const unit = m ? UNIT_MS[m[2]!]! : Infinity;
    if (!m || unit >= last) return undefined;
    total += Number(m[1]) * (last = unit);
    i = DURATION_PART.lastIndex;
  }
  return total;
}

/** 1000 years: longer ones (`8.64e+27` ms) failed in Redis, `Date` and PostgreSQL, at every use. */
export const MAX_DURATION_MS = 365_000 * 86_400_000;
const NOT_DURATION = "is not a duration (e.g. 500ms, 30s, 5m, 4h, 1h30m)"; // also `true`, `null`
const TOO_LONG = "is longer than 365000d (1000 years), the longest duration Vigil takes";
const TOO_SHORT = "is shorter than 1ms: write 0 for none";
const NEGATIVE = "is negative: a duration is 0 or more"; // read as 0, it turned a timeout off
/**
 * A duration in whole milliseconds, at most {@link MAX_DURATION_MS}; accepts `500`, `500ms`, `30s`,
 * `1h30m`. Rounded: a fraction of a millisecond (`1.2345s`) reached Redis (`PX`, `XAUTOCLAIM`).
 */
export const durationVar = z.union([z.number(), z.string()], NOT_DURATION).transform((v, ctx) => {
  const ms = typeof v === "number" ? v : parseDurationMs(v);
  if (ms === undefined || !(ms <= MAX_DURATION_MS)) {
    const message = ms === undefined ? NOT_DURATION : TOO_LONG;
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  }
  if (ms < 0 || (ms > 0 && Math.round(ms) === 0)) { // -0.3 rounded to -0 and passed min(0)
    ctx.addIssue({ code: "custom", message: ms < 0 ? NEGATIVE : TOO_SHORT });
    return z.NEVER;
  }
  return Math.round(ms);
});

/** A duration on a command line: a number needs its unit (`--duration 60` was 60 ms), bare 0 aside. */
export const flagDurationVar = z.string().refine(
  (s) => Number(s) === 0 || !/^\s*\d+(?:\.\d+)?\s*$/.test(s),
  "needs a unit (e.g. 500ms, 30s, 5m, 1h)",
).pipe(durationVar as unknown as z.ZodType<number, string>);

/** The units of {@link UNIT_MS} but `ms`, the largest first. */
const DURATION_UNITS = Object.entries(UNIT_MS).slice(1).reverse();

/**
 * `ms` as `durationVar` reads it, for messages: `1h`, `30s`, `100ms`, and `1d5m` rather than
 * `1445m` when no one unit divides it.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of DURATION_UNITS) {
    if (rest >= size) out += `${Math.floor(rest / size)}${unit}`;
    rest %= size;
  }
  return rest ? `${out}${rest}ms` : out;
}

/**
 * A duration from `minMs` to `maxMs`; `why` says what a value outside would
 * do. One that times a timer needs a bound: past 2^31-1 ms (about 24.8 days)
 * `setTimeout` and `setInterval` fire at once, so a "very long" value made a
 * busy loop or an immediate timeout.
 */
export function durationBetween(minMs: number, maxMs: number, why?: string) {
  return durationVar.refine(
    (ms) => ms >= minMs && ms <= maxMs,
    `must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}${
      why ? ` (${why})` : ""
    }`,
  );
}

/** `true/false/1/0/yes/no`. */
export const boolVar = z.union([z.boolean(), z.string()]).transform((v, ctx) => {
  if (typeof v === "boolean") return v;
  const s = v.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(s)) return true;
  if (["0", "false", "no", "off", ""].includes(s)) return false;
  ctx.addIssue({ code: "custom", message: "is not a boolean (true/false)" });
  return z.NEVER;
});

/** Comma-separated `host:port` list (port 1-65535); `example` is shown in the error. */
export function hostPortListVar(example: string) {
  return z.string().transform((s, ctx) => {
    const list = s.split(",").map((b) => b.trim()).filter(Boolean);
    const bad = list.find((b) => {
      const port = /^[\w.\-\[\]:]+:(\d{1,5})$/.exec(b)?.[1];
      return port === undefined || Number(port) < 1 || Number(port) > 65535;
    });
    if (list.length === 0 || bad !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `is not a list of host:port, port 1-65535 (e.g. ${example})${
          bad ? `: bad entry "${bad}"` : ""
        }`,
      });
      return z.NEVER;
    }
    return list;
  });
}

/**
 * Comma-separated Kafka `host:port` list. No IPv6 address: kafkajs 2.2 cuts a
 * broker at its first ":" (`[::1]:9092` became host "["), and retried forever.
 */
export const brokerListVar = hostPortListVar("localhost:9092,localhost:9093").refine(
  (list) => !list.some((b) => b.startsWith("[") || b.split(":").length > 2),
  "names an IPv6 address, which the Kafka client cannot connect to: use a host name that " +
    "resolves to it (e.g. localhost, or a line in /etc/hosts)",
);

/**
 * An address to listen on: a host name or IP address alone (IPv6 bare or in
 * brackets). With a port (`0.0.0.0:8080`) the service failed only at its
 * listen, after connecting to everything else, and exited 1. `portHint` names
 * where the port goes.
 */
export function listenHostVar(portHint: string) {
  return z.string().trim().refine((h) => {
    const ip = /^\[(.*)\]$/.exec(h)?.[1] ?? h;
    return /^[\w.-]+$/.test(h) ||
      (/^[0-9a-f:.]+(%[\w.-]+)?$/i.test(ip) && ip.split(":").length > 2);
  }, `is not a host name or address alone (the port goes in ${portHint})`);
}

/** Variables of every service that serves HTTP (see `shared/http/serve.ts`). */
export const httpEnv = {
  /** Host the ops/HTTP server binds. */
  HTTP_HOST: listenHostVar("this service's *_PORT variable").default("127.0.0.1"),
  /** Most time to receive a request head; 0 turns the guard off (behind a proxy that has one). */
  HTTP_HEADER_TIMEOUT: durationVar.refine(
    (ms) => ms === 0 || (ms >= 100 && ms <= 600_000),
    "must be 0 (off) or between 100ms and 10m",
  ).default(10_000),
  /** Most time to receive a request body once its head is in; 0 = no limit. */
  HTTP_BODY_TIMEOUT: durationVar.refine(
    (ms) => ms === 0 || (ms >= 100 && ms <= 3_600_000),
    "must be 0 (no limit) or between 100ms and 1h",
  ).default(30_000),
  /** Largest request head (request line and headers) in bytes; larger answers 431. */
  HTTP_MAX_HEADER_BYTES: decimalVar(
    z.number().int().min(1024, "must be at least 1024").max(1024 * 1024, "must be at most 1048576"),
  ).default(32 * 1024),
};

/** The serve options `httpEnv` resolves to (spread into `serve()`'s options). */
export function httpServerOptions(
  env: z.output<z.ZodObject<typeof httpEnv>>,
): { hostname: string; headerTimeoutMs: number; bodyTimeoutMs: number; maxHeaderBytes: number } {
  return {
    hostname: env.HTTP_HOST,
    headerTimeoutMs: env.HTTP_HEADER_TIMEOUT,
    bodyTimeoutMs: env.HTTP_BODY_TIMEOUT,
    maxHeaderBytes: env.HTTP_MAX_HEADER_BYTES,
  };
}

/** The database number a Redis URL names after the host ("" for none), or null if its path is not one. */
function redisDatabase(url: string): string | null {
  const m = /^\/?(\d{1,5})?$/.exec(URL.parse(url)?.pathname ?? "");
  return m ? m[1] ?? "" : null;
}

/** Redis variables (bridge, detector, notifier, web). */
export const redisEnv = {
  /** Redis connection URL. */
  REDIS_URL: urlVar(["redis:", "rediss:"], "redis://127.0.0.1:6379").refine(
    (s) => redisDatabase(s) !== null,
    "names no database number after the host (e.g. redis://127.0.0.1:6379/0)",
  ).default("redis://127.0.0.1:6379"),
  /**
   * Seed nodes of a Redis Cluster (`host:port,…`); when set, every Redis client is a cluster
   * client and `REDIS_URL` gives only the credentials and TLS (`rediss:`) for every node.
   */
  REDIS_CLUSTER_NODES: hostPortListVar("10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000").optional(),
  /** Prefix of every Redis key, stream and channel. */
  VIGIL_PREFIX: z.string().regex(/^[\w.:-]{1,64}$/, "must be 1-64 of [A-Za-z0-9_.:-]").default(
    "vigil:",
  ),
};

/** PostgreSQL connection URL (detector, notifier, web, migrations). */
export const databaseEnv = {
  DATABASE_URL: urlVar(["postgres:", "postgresql:"], "postgres://postgres@127.0.0.1:5432/postgres")
    // postgres.js 3.4 cuts the host at its first ":" (`[::1]` became "["): it retried forever.
    .refine(
      (s) => !new URL(s).hostname.startsWith("["),
      "names an IPv6 address, which the PostgreSQL client cannot connect to from a URL: use a " +
        "host name that resolves to it (e.g. localhost, or a line in /etc/hosts)",
    )
    .default("postgres://postgres@127.0.0.1:5432/postgres"),
};

/**
 * Variables of every long-running service: log level and HTTP serving. A
 * service reads only the stores it uses, so a bad value of another one's
 * (the archive and a bad `REDIS_URL`) does not stop it.
 */
export const serviceEnv = {
  /** Minimum log level. */
  LOG_LEVEL: z.string().toLowerCase().pipe(z.enum(LOG_LEVEL_NAMES)).default("info"),
  ...httpEnv,
};

/** Variables of the services that use Redis and PostgreSQL (detector, notifier, web). */
export const commonEnv = { ...redisEnv, ...databaseEnv, ...serviceEnv };

/** The stream partitioning (bridge and detector must agree; see shared/partitions.ts). */
export const partitionsEnv = {
  /** Partitions of every event stream; fixed for an installation (checked against Redis). */
  VIGIL_PARTITIONS: intVar(1, MAX_PARTITIONS).default(1),
};

/** Kafka variables (for services that speak Kafka). */
export const kafkaEnv = {
  /** Bootstrap servers; when unset, `.vigil/kafka_brokers` (from `deno task kafka`), else localhost:9092. */
  KAFKA_BROKERS: brokerListVar.optional(),
  /** kafkajs client id. */
  KAFKA_CLIENT_ID: z.string().min(1).default("vigil"),
};

/** Variables whose value is never echoed in an error (URL credentials are redacted in any). */
const SECRET_VAR = /PASS|SECRET|TOKEN|KEY|WEBHOOK|AUTH|CREDENTIAL/i;

/**
 * A refused value as an error may show it: {@link redact}ed, and with the
 * `user:password` before the last `@` cut even when the value is no URL
 * (`postgres//u:pw@db`, a password with a space or an unencoded `@`), which
 * `redact` cannot tell from text.
 */
function shownValue(value: string): string {
  const at = value.lastIndexOf("@");
  const colon = value.indexOf(":");
  if (at < 0 || colon < 0 || colon > at) return String(redact(value));
  const scheme = /^[a-z][a-z0-9+.-]*:\/*/i.exec(value)?.[0] ?? "";
  return `${scheme}***${redact(value.slice(at))}`;
}

/** Whether `name` is set in `env`: an empty or blank value means unset, as in `VAR= cmd`. */
export function isEnvSet(env: Record<string, string | undefined>, name: string): boolean {
  const v = env[name];
  return v !== undefined && v.trim() !== "";
}

/**
 * Parse the environment with `schema`, or throw a {@link ConfigError} that
 * names every bad variable: `Cannot start detector: REDIS_URL is not a valid URL …`.
 */
export function parseEnv<S extends z.ZodObject>(
  service: string,
  schema: S,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Readonly<z.infer<S>> {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (isEnvSet(env, k)) cleaned[k] = v!;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? "(env)");
      const got = cleaned[key];
      const shown = got === undefined
        ? ""
        : ` (got "${SECRET_VAR.test(key) ? "***" : shownValue(got).slice(0, 80)}")`;
      return `${key} ${i.message}${shown}`;
    });
    throw new ConfigError(`Cannot start ${service}: ${escapeUnshown(problems.join("; "))}`);
  }
  // A Redis Cluster has database 0 only: a number in REDIS_URL would be ignored.
  const { REDIS_URL: url, REDIS_CLUSTER_NODES: nodes } = result.data as Record<string, unknown>;
  const db = typeof url === "string" ? redisDatabase(url) : null;
  if (Array.isArray(nodes) && nodes.length > 0 && db && Number(db) !== 0) {
    throw new ConfigError(
      `Cannot start ${service}: REDIS_URL names database ${db}, but a Redis Cluster (REDIS_CLUSTER_NODES) has only database 0: remove "/${db}" from REDIS_URL`,
    );
  }
  return Object.freeze(result.data);
}

/**
 * Resolve the Kafka bootstrap list: `KAFKA_BROKERS` when set, else the dev
 * cluster's file, else `localhost:9092`.
 */
export async function resolveKafkaBrokers(configured: string[] | undefined): Promise<string[]> {
  if (configured && configured.length) return configured;
  try {
    const text = (await Deno.readTextFile(KAFKA_BROKERS_FILE)).trim();
    if (text) return text.split(",").map((s) => s.trim()).filter(Boolean);
  } catch {
    // No dev cluster running: fall through to the conventional default.
  }
  return ["localhost:9092"];
}

/**
 * How long a pending stream entry of another consumer stays idle before it
 * is claimed (XAUTOCLAIM): at least a second, or entries still being
 * processed would be taken from the instance handling them.
 */
export const claimIdleVar = durationVar.pipe(
  z.number().min(1000, "must be at least 1s (entries in progress would be taken over)"),
);

/**
 * A path setting (`ARCHIVE_DIR`, `OUTBOX_DIR`, a rules or routes file),
 * refused at start when the process may not use it. A `deno task` grants
 * access to named paths only (least privilege), and Deno's own error, raised
 * at the first use (an archive batch, a digest), says to pass `--allow-read`,
 * which a task's user does not do. `hint` says where the task may: `a folder
 * under ./data`.
 */
export function pathVar(access: readonly ("read" | "write")[], hint: string) {
  return z.string().trim().min(1).superRefine((path, ctx) => {
    const missing = access.filter((name) =>
      Deno.permissions.querySync({ name, path }).state !== "granted"
    );
    if (missing.length === 0) return;
    ctx.addIssue({
      code: "custom",
      message: `is outside what this service's deno task may ${missing.join(" and ")} (a task ` +
        `may use only the paths its line in deno.json names): use ${hint}, or add the path to ` +
        `the task's ${missing.map((m) => `--allow-${m}`).join(" and ")}`,
    });
  });
}

/**
 * Run `fn` and turn a {@link ConfigError} into a clean exit with status 2, after one JSON log
 * line (level `error`, `msg` the error's message) from `service`: like every other line, so a
 * log system reads why a deploy failed.
 */
export function configOrExit<T>(fn: () => T, service: string): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) {
      createLogger({ service }).error(error.message);
      Deno.exit(2);
    }
    throw error;
  }
}
