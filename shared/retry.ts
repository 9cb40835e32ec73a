/**
 * The one retry loop of every Vigil service: exponential backoff with
 * jitter, an abort signal, a bounded or unbounded number of attempts and a
 * predicate that says which errors are worth retrying.
 *
 * ```ts
 * const rows = await retry(() => store.insert(firings), {
 *   signal,
 *   baseMs: 200,
 *   capMs: 5000,
 *   onRetry: logRetry(log, "store anomalies"),
 * });
 * ```
 *
 * @module
 */
import { errorMessage, type Logger } from "./log.ts";
import { sleep } from "./lifecycle.ts";

/** What {@link RetryOptions.onRetry} is told before each wait. */
export interface RetryInfo {
  error: unknown;
  /** The attempt that just failed, from 1. */
  attempt: number;
  /** The wait before the next attempt. */
  delayMs: number;
}

/** Options of {@link retry}. */
export interface RetryOptions {
  /** Stops the waiting; after a failure an aborted signal ends the loop with its reason. */
  signal?: AbortSignal;
  /** First backoff step. @default {100} */
  baseMs?: number;
  /** Largest wait. @default {30000} */
  capMs?: number;
  /** Attempts in all, then {@link RetryError}. @default {Infinity} */
  maxAttempts?: number;
  /** Wait between half and all of the step (true) or exactly the step (false). @default {true} */
  jitter?: boolean;
  /** Errors for which this returns false are rethrown at once. @default every error */
  isRetryable?: (error: unknown) => boolean;
  /** Called before each wait (logging, metrics). */
  onRetry?: (info: RetryInfo) => void;
  /** Source of randomness for the jitter (tests). @default {Math.random} */
  random?: () => number;
  /** The wait itself (tests pass one that does not wait). @default lifecycle's `sleep` */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Raised by {@link retry} when `maxAttempts` attempts all failed; `cause` is the last error. */
export class RetryError extends Error {
  /** Attempts made. */
  readonly attempts: number;
  constructor(attempts: number, cause: unknown) {
    super(`Retrying stopped after ${attempts} attempts: ${errorMessage(cause)}`, { cause });
    this.name = "RetryError";
    this.attempts = attempts;
  }
}

/**
 * The wait before attempt `attempt + 1` (0-based `attempt` failed):
 * `min(cap, base·2^attempt)`, with jitter a random value between half of it
 * and all of it.
 */
export function backoffMs(
  attempt: number,
  options: Pick<RetryOptions, "baseMs" | "capMs" | "jitter" | "random"> = {},
): number {
  const base = options.baseMs ?? 100;
  const cap = options.capMs ?? 30_000;
  const ceiling = Math.min(cap, base * 2 ** Math.min(Math.max(attempt, 0), 30));
  if (options.jitter === false) return ceiling;
  const r = (options.random ?? Math.random)();
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}

function validate(options: RetryOptions): void {
  const { baseMs = 100, capMs = 30_000, maxAttempts = Infinity } = options;
  if (!(baseMs >= 0) || !Number.isFinite(baseMs)) {
    throw new RangeError(
      `Cannot retry as 'baseMs' must be a finite number >= 0: current value is ${baseMs}`,
    );
  }
  if (!(capMs >= baseMs)) {
    throw new RangeError(`Cannot retry as 'capMs' must be >= 'baseMs': current value is ${capMs}`);
  }
  if (!(maxAttempts >= 1) || (Number.isFinite(maxAttempts) && !Number.isInteger(maxAttempts))) {
    throw new RangeError(
      `Cannot retry as 'maxAttempts' must be a positive integer or Infinity: current value is ${maxAttempts}`,
    );
  }
}

/**
 * Call `fn` until it resolves. It always makes the first attempt, even when
 * `signal` is already aborted (finish the work in hand); after a failure an
 * aborted signal ends the loop with `signal.reason`.
 *
 * @throws {RangeError} when the options are invalid
 * @throws {RetryError} after `maxAttempts` failed attempts
 * @throws the error itself when `isRetryable` says it is not retryable
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  validate(options);
  const maxAttempts = options.maxAttempts ?? Infinity;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (options.isRetryable && !options.isRetryable(error)) throw error;
      if (attempt >= maxAttempts) throw new RetryError(attempt, error);
      const delayMs = backoffMs(attempt - 1, options);
      options.onRetry?.({ error, attempt, delayMs });
      await (options.sleep ?? sleep)(delayMs, options.signal);
    }
  }
}

/** After its first three, a retry loop logs at most one attempt per this long. */
const LOG_EVERY_MS = 60_000;

/**
 * An `onRetry` that logs "cannot <what>, retrying" with the error, the attempt
 * and the wait: at warn level the first three attempts of the loop, then at
 * most one per {@link LOG_EVERY_MS} (the others at debug), so an outage of an hour writes
 * a line a minute per loop, not one per attempt. Make one per retry loop: the
 * closure remembers when it last wrote.
 */
export function logRetry(
  log: Logger,
  what: string,
  count?: () => void,
  options: {
    now?: () => number;
    /** More fields of each line, from the failed attempt. */
    fields?: (info: RetryInfo) => Record<string, unknown>;
  } = {},
): (info: RetryInfo) => void {
  const now = options.now ?? Date.now;
  let lastAt = -Infinity;
  return (info) => {
    const { error, attempt, delayMs } = info;
    count?.();
    const fields = { error, attempt, retry_in_ms: delayMs, ...options.fields?.(info) };
    const t = now();
    if (attempt > 3 && t - lastAt < LOG_EVERY_MS) {
      return log.debug(`cannot ${what}, retrying`, fields);
    }
    lastAt = t;
    log.warn(`cannot ${what}, retrying`, fields);
  };
}

/** One log for many retry loops of the same kind ({@link createRetryRounds}). */
export interface RetryRounds {
  /** The `onRetry` of the loop of `key` (an object, a partition); `fields` go on its lines. */
  failed(key: string, info: RetryInfo, fields?: Record<string, unknown>): void;
  /** The loop of `key` ended: its write went through, it gave up or was aborted. */
  ended(key: string): void;
  /**
   * Write what failed since the last line, when due: call it on a tick (a round of loops
   * failing together is gathered until then) and once at the end.
   */
  report(): void;
}

/**
 * Many retry loops of one kind that fail together (the archive's per-object puts on a full disk:
 * 38 loops each warning of its first three attempts wrote 114 lines in a second, then 38 a
 * minute): each attempt at debug, and at warn "cannot <what>, retrying" once per round, with
 * how many loops are failing now (`failing`, `keys`: the first 10), the failed attempts since
 * the last line and the first error among them; then at most one a minute while it
 * lasts. When every loop of a warned outage ended, once at info "can <what> again" (with the
 * failed attempts of the whole outage).
 */
export function createRetryRounds(
  log: Logger,
  what: string,
  options: { now?: () => number } = {},
): RetryRounds {
  const now = options.now ?? Date.now;
  /** Loops whose last attempt failed, by key. */
  const failing = new Set<string>();
  let attempts = 0;
  /** The first failed attempt since the last line: its error and fields. */
  let first: Record<string, unknown> = {};
  let lastAt = -Infinity;
  /** Failed attempts of the outage a warning told of. */
  let warned = 0;
  return {
    failed(key, info, fields = {}) {
      failing.add(key);
      if (attempts++ === 0) first = { ...fields, error: info.error };
      log.debug(`cannot ${what}, retrying`, {
        key,
        ...fields,
        error: info.error,
        attempt: info.attempt,
        retry_in_ms: info.delayMs,
      });
    },
    ended(key) {
      failing.delete(key);
    },
    report() {
      const t = now();
      if (attempts > 0 && t - lastAt >= LOG_EVERY_MS) {
        lastAt = t;
        // A blip (every loop went through since) is this one line; an outage is told its end.
        if (failing.size > 0) warned += attempts;
        log.warn(`cannot ${what}, retrying`, {
          failing: failing.size,
          keys: [...failing].slice(0, 10),
          attempts,
          ...first,
        });
        attempts = 0;
        first = {};
      }
      if (warned > 0 && failing.size === 0) {
        log.info(`can ${what} again`, { attempts: warned + attempts });
        warned = 0;
        attempts = 0;
        first = {};
      }
    },
  };
}
