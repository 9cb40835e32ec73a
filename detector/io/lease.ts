/**
 * A shard lease in Redis (`SET key owner NX PX ttl`, renewed every ttl/3 by a
 * compare-and-expire script). Exactly one detector instance consumes a shard
 * at a time; a standby instance of the same shard waits and takes over when
 * the holder stops renewing (crash, kill -9, partition) for `ttlMs`.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Logger } from "@vigil/shared/log";
import { sleep } from "@vigil/shared/lifecycle";

// Single-key compare-and-set scripts (no multi-key atomicity involved).
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) else return 0 end`;

/** A lease on one key. */
export interface Lease {
  /** Wait until this owner holds the lease. */
  acquire(signal: AbortSignal): Promise<void>;
  /** Renew until `signal` aborts; calls `onLost` (once) if the lease was lost. */
  keep(signal: AbortSignal, onLost: (reason: string) => void): Promise<void>;
  release(): Promise<void>;
}

/** Create the lease `key` for `owner`. */
export function createLease(
  options: { redis: Redis; key: string; owner: string; ttlMs: number; log: Logger },
): Lease {
  const { redis, key, owner, ttlMs } = options;
  const log = options.log.with({ lease: key, owner });
  return {
    async acquire(signal) {
      let waiting = false;
      for (;;) {
        signal.throwIfAborted();
        try {
          const ok = await redis.set(key, owner, "PX", ttlMs, "NX");
          if (ok === "OK" || (await redis.eval(RENEW, 1, key, owner, ttlMs)) === 1) {
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
        await sleep(Math.max(100, Math.floor(ttlMs / 3)), signal);
      }
    },
    async keep(signal, onLost) {
      let failures = 0;
      let lastOk = Date.now();
      while (!signal.aborted) {
        try {
          await sleep(Math.max(50, Math.floor(ttlMs / 3)), signal);
        } catch {
          return;
        }
        try {
          const renewed = await redis.eval(RENEW, 1, key, owner, ttlMs);
          if (renewed !== 1) {
            onLost("lease taken over by another instance");
            return;
          }
          failures = 0;
          lastOk = Date.now();
        } catch (error) {
          failures++;
          log.warn("cannot renew lease", { error, failures });
          if (Date.now() - lastOk >= ttlMs) {
            onLost("lease expired while Redis was unreachable");
            return;
          }
        }
      }
    },
    async release() {
      await redis.eval(RELEASE, 1, key, owner);
    },
  };
}
