/**
 * Graceful shutdown: one `AbortSignal` fired by SIGINT/SIGTERM. The first
 * signal starts a drain; a second signal, or the force timer (default 10 s),
 * exits at once. A signal repeated within {@link REPEATED_SIGNAL_MS} of the
 * first is the same request delivered twice, not a second one: Ctrl-C in a
 * terminal reaches the whole foreground process group, so a service run by
 * `deno task` gets SIGINT from the terminal and again from `deno task`, which
 * forwards it. Cleanups run in reverse order of registration, each in its own
 * try/catch, and `shutdown()` is idempotent.
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** A signal this soon after the first is a duplicate delivery, ignored (ms). */
export const REPEATED_SIGNAL_MS = 1000;

/**
 * Tell apart the shutdown signals a process receives: the first, the same
 * request delivered again within {@link REPEATED_SIGNAL_MS} (a terminal's
 * Ctrl-C reaches the whole process group and `deno task` forwards it too),
 * or a second request (which forces the exit).
 */
export function signalSeries(
  now: () => number = () => performance.now(),
): () => "first" | "repeated" | "second" {
  let first: number | undefined;
  return () => {
    const t = now();
    if (first === undefined) {
      first = t;
      return "first";
    }
    return t - first < REPEATED_SIGNAL_MS ? "repeated" : "second";
  };
}

/** Options for {@link createLifecycle}. */
export interface LifecycleOptions {
  log: Logger;
  /** Force exit this long after the first signal. @default {10000} */
  forceAfterMs?: number;
  /**
   * Once stopped, exit if something still holds the process this long after (a start step
   * waiting for a dependency that never answers keeps a client reconnecting). @default {2000}
   */
  exitAfterStopMs?: number;
}

/** The running service's lifecycle. */
export interface Lifecycle {
  /** Aborted when shutdown begins. */
  readonly signal: AbortSignal;
  /** Register a cleanup; cleanups run last-registered first. */
  onShutdown(name: string, fn: () => unknown | Promise<unknown>): void;
  /** Begin shutdown (idempotent); resolves when every cleanup ran. */
  shutdown(reason?: string): Promise<void>;
}

/** Create the lifecycle of one service process. */
export function createLifecycle(options: LifecycleOptions): Lifecycle {
  const { log } = options;
  const forceAfterMs = options.forceAfterMs ?? 10_000;
  const controller = new AbortController();
  const cleanups: [string, () => unknown][] = [];
  let closing: Promise<void> | undefined;

  const shutdown = (reason = "shutdown requested"): Promise<void> => {
    if (closing) return closing;
    log.info("shutting down", { reason });
    const timer = setTimeout(() => {
      log.error("shutdown took too long, forcing exit", { after_ms: forceAfterMs });
      Deno.exit(1);
    }, forceAfterMs);
    Deno.unrefTimer(timer);
    controller.abort(new Error(reason));
    closing = (async () => {
      await runCleanups(log, cleanups.toReversed());
      clearTimeout(timer);
      log.info("stopped");
      // Everything registered is closed; a step of the start still waiting (Redis out of reach:
      // its client reconnects for ever) would hold the process after "stopped" until killed.
      const held = setTimeout(() => {
        log.warn("stopped, but a step still waiting held the process: exiting");
        Deno.exit(Number(Deno.exitCode) || 0);
      }, options.exitAfterStopMs ?? 2000);
      Deno.unrefTimer(held);
    })();
    return closing;
  };

  const nextSignal = signalSeries();
  const onSignal = (sig: string) => {
    const kind = nextSignal();
    if (kind === "first") shutdown(sig);
    else if (kind === "repeated") {
      log.info("signal delivered twice (terminal and deno task), still shutting down", {
        signal: sig,
      });
    } else {
      log.warn("second signal, forcing exit", { signal: sig });
      Deno.exit(130);
    }
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => onSignal(sig));
  }

  return {
    signal: controller.signal,
    onShutdown(name, fn) {
      cleanups.push([name, fn]);
    },
    shutdown,
  };
}

/** Run the named cleanups in order, each in its own try/catch: one that fails is logged ("cleanup failed"). */
export async function runCleanups(log: Logger, steps: [string, () => unknown][]): Promise<void> {
  for (const [name, fn] of steps) {
    try {
      await fn();
    } catch (error) {
      log.warn("cleanup failed", { step: name, error });
    }
  }
}

/** Resolve after `ms`, or reject early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** What {@link untilAborted} answers when `signal` aborted first. */
export const ABORTED: unique symbol = Symbol("aborted");

/**
 * `promise`'s value, or {@link ABORTED} as soon as `signal` aborts (before or
 * while it waits), for a call that takes no signal of its own (a Kafka send
 * under backpressure, nodemailer). The promise left behind goes on; its
 * rejection is observed here, so it never goes unhandled.
 */
export async function untilAborted<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T | typeof ABORTED> {
  promise.catch(() => {});
  const aborted = Promise.withResolvers<typeof ABORTED>();
  const onAbort = () => aborted.resolve(ABORTED);
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await Promise.race([promise, aborted.promise]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Race `promise` against a timeout; rejects with a TimeoutError-named Error. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new Error(`Cannot ${what}: timed out after ${ms} ms`);
          e.name = "TimeoutError";
          reject(e);
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
