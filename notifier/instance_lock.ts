/**
 * One notifier at a time. Two would each hold the batcher state in memory
 * and overwrite each other's commits (a resolution one took in vanished from
 * the other's digests), and both would send every pending notification. The
 * running notifier holds a PostgreSQL session advisory lock, on the database
 * that holds its state; another one waits, standing by, and takes over when
 * the lock is free. PostgreSQL frees it when the session ends: a notifier
 * stopped, killed (its connection closes) or cut off from PostgreSQL.
 *
 * @module
 */
import type postgres from "postgres";
import type { Logger } from "@vigil/shared/log";
import { sleep, withTimeout } from "@vigil/shared/lifecycle";
import { logRetry } from "@vigil/shared/retry";

/** Session advisory lock of the running notifier (retention uses 7_131_912). */
export const NOTIFIER_LOCK_ID = 7_131_913; // arbitrary, constant: "vigil notifier"

/** The lock, held. */
export interface InstanceLock {
  /** Aborts when the lock's session is gone (PostgreSQL restarted, connection cut). */
  readonly lost: AbortSignal;
  /** Free the lock and its connection. */
  release(): Promise<void>;
}

/** Options of {@link acquireInstanceLock}. */
export interface InstanceLockOptions {
  log: Logger;
  signal: AbortSignal;
  /** Called once when another notifier holds the lock (this one stands by). */
  onWait?: () => void;
  /** How often a standby asks again. @default {2000} */
  pollMs?: number;
}

/** How often the holder checks its session (ms). */
const CHECK_MS = 5000;

/**
 * Wait until this process holds the lock (rejects with the signal's reason
 * when stopped first; PostgreSQL errors are retried). The lock lives on a
 * connection of its own (`connect()`, one connection), closed when it is
 * released or lost: a pooled connection cut mid-query hangs its next query.
 * While holding it, the session is checked every `CHECK_MS`: an error or no
 * answer within that time means the lock may be gone, and `lost` aborts.
 */
export async function acquireInstanceLock(
  connect: () => postgres.Sql,
  options: InstanceLockOptions,
): Promise<InstanceLock> {
  const { log, signal } = options;
  const pollMs = options.pollMs ?? 2000;
  let warned = false;
  // The first three failures, then one a minute (PostgreSQL down: every poll failed aloud).
  const failed = logRetry(log, "take the notifier lock");
  let failures = 0;
  while (true) {
    signal.throwIfAborted();
    const db = connect();
    try {
      const [row] = await withTimeout(
        db<{ locked: boolean }[]>`SELECT pg_try_advisory_lock(${NOTIFIER_LOCK_ID}) AS locked`,
        10_000,
        "take the notifier lock",
      );
      if (row?.locked) return held(db, log, warned);
      const holder = await db<{ pid: number; client: string | null; since: Date | null }[]>`
        SELECT a.pid, a.client_addr::text AS client, a.backend_start AS since
        FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND l.objid::text = ${String(NOTIFIER_LOCK_ID)}
          AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
      if (!warned) {
        warned = true;
        options.onWait?.();
        log.warn("another notifier is running: standing by until it stops (run one notifier)", {
          holder_pid: holder[0]?.pid,
          holder_client: holder[0]?.client,
          holder_since: holder[0]?.since?.toISOString(),
        });
      }
    } catch (error) {
      failed({ error, attempt: ++failures, delayMs: pollMs });
    }
    await db.end({ timeout: 1 }).catch(() => {});
    await sleep(pollMs, signal);
  }
}

function held(db: postgres.Sql, log: Logger, waited: boolean): InstanceLock {
  if (waited) log.info("the other notifier stopped: taking over");
  const lost = new AbortController();
  const checking = (async () => {
    while (!lost.signal.aborted) {
      await sleep(CHECK_MS, lost.signal).catch(() => {});
      if (lost.signal.aborted) return;
      try {
        await withTimeout(db`SELECT 1`, CHECK_MS, "check the notifier lock's session");
      } catch (error) {
        const msg =
          "the notifier lock's PostgreSQL session is gone: stopping until it is held again";
        log.error(msg, { error });
        lost.abort(new Error("notifier lock lost"));
      }
    }
  })();
  let released = false;
  return {
    lost: lost.signal,
    async release() {
      if (released) return;
      released = true;
      lost.abort(new Error("released"));
      await checking;
      // Closing the session frees the lock (also one that was only slow to answer).
      await db.end({ timeout: 1 }).catch(() => {});
    },
  };
}
