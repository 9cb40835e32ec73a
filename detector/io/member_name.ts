/**
 * One process per detector member name (`DETECTOR_MEMBER`).
 *
 * Memberships and unit leases hold the member name, so two processes given
 * the same name would both renew the same leases and consume the same units,
 * each with its own windows (anomalies missed or stored twice). A process
 * therefore holds its name, `vigil:detector:member:<name>` = a random token
 * of the process (`SET PX`, renewed with every assignment round), before it
 * joins. At start, a name held by another token is waited out once (a
 * previous process of that name that stopped without releasing it lapses
 * within its TTL); a holder that keeps renewing it is a running process of
 * the same name, and the start stops with what to fix (exit 2).
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import { ConfigError } from "@vigil/shared/config";
import type { Logger } from "@vigil/shared/log";
import { sleep } from "@vigil/shared/lifecycle";
import { logRetry, retry } from "@vigil/shared/retry";

/** A process's hold of its member name. */
export interface MemberName {
  /** `keys.detectorMemberName(member)`. */
  key: string;
  member: string;
  /** This process's token (random). */
  token: string;
  ttlMs: number;
}

/** Take or renew the name: {1} held, or {0, holder's token, its PTTL}. Single key. */
const HOLD = `local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1}
end
return {0, holder, redis.call('PTTL', KEYS[1])}`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) else return 0 end`;

/** Delete `key` if it still holds `value` (a unit's lease, a member name): 1 deleted, else 0. */
export async function releaseHold(redis: Redis, key: string, value: string): Promise<number> {
  return Number(await redis.eval(RELEASE, 1, key, value));
}

/** Outcome of {@link holdMemberName}. */
export type NameHold = { held: true } | { held: false; holder: string; pttlMs: number };

/** Take the name, or renew this process's hold of it. */
export async function holdMemberName(redis: Redis, name: MemberName): Promise<NameHold> {
  const reply = await redis.eval(HOLD, 1, name.key, name.token, name.ttlMs) as unknown[];
  if (Number(reply[0]) === 1) return { held: true };
  return { held: false, holder: String(reply[1]), pttlMs: Number(reply[2]) };
}

/**
 * At start: take the name. Held by another process, its hold is waited out
 * once; renewed meanwhile (a running process of the same name), a
 * ConfigError. Redis unreachable: asked again every second until `signal`
 * aborts.
 */
export async function claimMemberName(
  redis: Redis,
  name: MemberName,
  options: { log: Logger; signal: AbortSignal },
): Promise<void> {
  const { log, signal } = options;
  let waited: string | undefined;
  for (;;) {
    const hold = await retry(() => holdMemberName(redis, name), {
      signal,
      baseMs: 1000,
      capMs: 1000,
      onRetry: logRetry(log, "hold the member name"),
    });
    if (hold.held) return;
    if (hold.holder === waited) {
      throw new ConfigError(
        `DETECTOR_MEMBER=${name.member} is in use by another running detector (it keeps renewing ` +
          `${name.key}): give each instance its own DETECTOR_MEMBER, or leave it unset ` +
          `(<hostname>-<pid>)`,
      );
    }
    const waitMs = (hold.pttlMs >= 0 ? hold.pttlMs : name.ttlMs) + 50;
    log.warn(
      "member name held by another process: waiting for its hold to lapse (a previous process " +
        "of this name that stopped without releasing it; a running one renews it)",
      { member: name.member, key: name.key, wait_ms: waitMs },
    );
    waited = hold.holder;
    await sleep(waitMs, signal);
  }
}
