/**
 * A lease in Redis (`SET key owner NX PX ttl`, renewed every ttl/3). Exactly
 * one detector instance consumes what the lease guards at a time; a standby
 * takes over when the holder stops renewing (crash, kill -9, partition) for
 * `ttlMs`.
 *
 * Renewing re-acquires a lease that expired while nobody else took it (after
 * Redis was down or hung longer than the TTL, or restarted empty): only a
 * lease held by another owner is lost. While Redis cannot be reached the
 * holder keeps going (it cannot make progress without Redis anyway) and
 * renews as soon as Redis answers again.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Logger } from "@vigil/shared/log";
import { sleep } from "@vigil/shared/lifecycle";

/**
 * 1 renewed, 2 re-acquired after it expired, 0 held by another owner.
 * Single-key, so it runs on a Redis Cluster too.
 */
const RENEW = `local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) else return 0 end`;

/** A lease on one key. */
export interface Lease {
  /** Wait until this owner holds the lease. */
  acquire(signal: AbortSignal): Promise<void>;
  /** Renew until `signal` aborts; calls `onLost` (once) if another owner took the lease. */
  keep(signal: AbortSignal, onLost: (reason: string) => void): Promise<void>;
  release(): Promise<void>;
}

/** Create the lease `key` for `owner`. */
export function createLease(
  options: { redis: Redis; key: string; owner: string; ttlMs: number; log: Logger },
): Lease {
  const { redis, key, owner, ttlMs } = options;
  const log = options.log.with({ lease: key, owner });
  const renew = async () => Number(await redis.eval(RENEW, 1, key, owner, ttlMs));
  const every = Math.max(50, Math.floor(ttlMs / 3));
  return {
    async acquire(signal) {
      let waiting = false;
      for (;;) {
        signal.throwIfAborted();
        try {
          if ((await renew()) !== 0) {
            log.info("lease acquired");
            return;
          }
          if (!waiting) {
            log.info("lease held by another instance, standing by", {
              holder: await redis.get(key),
            });
            waiting = true;
          }
        } catch (error) {
          log.warn("cannot acquire lease, retrying", { error });
        }
        await sleep(every, signal);
      }
    },
    async keep(signal, onLost) {
      let failing = false;
      while (!signal.aborted) {
        try {
          await sleep(every, signal);
        } catch {
          return;
        }
        try {
          const r = await renew();
          if (r === 0) {
            onLost(`lease taken over by another instance (${await redis.get(key)})`);
            return;
          }
          if (r === 2) log.warn("lease had expired and nobody held it: re-acquired");
          if (failing) log.info("lease renewed again");
          failing = false;
        } catch (error) {
          if (!failing) {
            log.warn("cannot renew lease (Redis unreachable), still consuming", { error });
          }
          failing = true;
        }
      }
    },
    async release() {
      await redis.eval(RELEASE, 1, key, owner);
    },
  };
}
