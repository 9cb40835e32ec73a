/**
 * JSON-lines logger: `{"ts","level","service","msg",...fields}` one per line
 * on stdout. Child loggers bind fields (`log.with({ stream })`). Values of
 * fields whose name looks secret (password, token, secret, webhook,
 * authorization, api key) are replaced by `***`, and URLs lose their
 * userinfo, so secrets never reach the logs.
 *
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** The logger interface every module receives. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A child logger with `fields` bound to every line. */
  with(fields: LogFields): Logger;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  service: string;
  /** @default {"info"} */
  level?: LogLevel;
  /** Where lines go. @default stdout */
  write?: (line: string) => void;
}

const SECRET_KEY = /pass(word)?|secret|token|webhook|authorization|api[_-]?key|credential/i;

/**
 * The userinfo after a URL's `://`. Anchored on `://`, not on the scheme before it: a long run
 * of scheme characters with no `://` made each start in the run scan to its end (quadratic).
 */
const URL_USERINFO = /(:\/\/)[^/\s@]+@/g;
const SECRET_QUERY =
  /([?&](?:access_token|token|api[_-]?key|apikey|key|password|pass|secret|sig|signature|x-amz-signature|x-amz-credential)=)[^&#\s]+/gi;
const MAX_DEPTH = 4;

/**
 * Redact secret-looking fields, URL credentials (userinfo and secret query
 * parameters) and webhook tokens. Objects nested deeper than 4 levels are
 * replaced by `"[nested]"` rather than written unredacted. Exported for tests.
 */
export function redact(value: unknown, key = "", depth = 0): unknown {
  if (key && SECRET_KEY.test(key) && value !== undefined && value !== null) return "***";
  if (typeof value === "string") {
    return value.replace(URL_USERINFO, "$1***@")
      .replace(SECRET_QUERY, "$1***")
      .replace(/(discord(?:app)?\.com\/api\/(?:v\d+\/)?webhooks\/\d+\/)[\w-]+/gi, "$1***")
      .replace(/(hooks\.slack\.com\/services\/)[\w/]+/gi, "$1***");
  }
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, "", depth + 1) };
  }
  if (value && typeof value === "object") {
    if (depth >= MAX_DEPTH) return "[nested]";
    if (Array.isArray(value)) return value.map((v) => redact(v, "", depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redact(v, k, depth + 1);
    return out;
  }
  return value;
}

const encoder = new TextEncoder();
function stdoutWrite(line: string): void {
  const bytes = encoder.encode(line + "\n");
  // writeSync may write only part of a long line to a pipe: write the rest too.
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** Keys every line has; a field with one of these names is written as `field_<name>`. */
const CORE_KEYS = new Set(["ts", "level", "service", "msg"]);

function put(line: LogFields, k: string, v: unknown): void {
  line[CORE_KEYS.has(k) ? `field_${k}` : k] = redact(v, k);
}

/** Create a logger for a service. */
export function createLogger(options: LoggerOptions, bound: LogFields = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ?? stdoutWrite;
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < min) return;
    const line: LogFields = { ts: new Date().toISOString(), level, service: options.service, msg };
    for (const [k, v] of Object.entries(bound)) put(line, k, v);
    if (fields) { for (const [k, v] of Object.entries(fields)) put(line, k, v); }
    let text: string;
    try {
      text = JSON.stringify(line, (_k, v) => typeof v === "bigint" ? v.toString() : v);
    } catch {
      text = JSON.stringify({ ts: line.ts, level, service: options.service, msg });
    }
    write(text);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => createLogger(options, { ...bound, ...fields }),
  };
}

/**
 * Repeats of one log line (kafkajs' connection error on every retry, the
 * bridge's refused appends): `seen(key)` answers whether a line is written:
 * the first of a key, then at most one per `everyMs`, with how many were
 * held back since the last one written.
 */
export function createRepeatFilter(
  everyMs: number,
  now: () => number = Date.now,
): (key: string) => { write: boolean; held: number } {
  const last = new Map<string, { at: number; held: number }>();
  return (key) => {
    const t = now();
    const entry = last.get(key);
    if (entry && t - entry.at < everyMs) {
      entry.held++;
      return { write: false, held: 0 };
    }
    if (last.size >= 1000) {
      for (const [k, e] of last) if (t - e.at >= everyMs) last.delete(k);
    }
    last.set(key, { at: t, held: 0 });
    return { write: true, held: entry?.held ?? 0 };
  };
}

/** An error's message (`String(error)` for what is not an `Error`). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
