/**
 * Which detector instance consumes which stream partition ("unit").
 *
 * Every instance heartbeats its membership in one sorted set
 * (`vigil:detector:members`, score = expiry in Redis server time, so clocks
 * do not matter) every `ttlMs / 3`. From the live members, every instance
 * computes the same assignment (units and members sorted, unit i to member
 * i mod n). A unit is consumed only under its lease
 * (`vigil:detector:lease:{<kind>:<p>}`, `SET NX PX`, renewed with the
 * heartbeat): an instance gives up the units no longer assigned to it (after
 * its consumer finished the batch in hand and its checkpoint), and takes the
 * newly assigned ones as soon as their lease is free. When an instance dies,
 * its membership and leases expire after `ttlMs` and the others take over;
 * when one joins or leaves cleanly, the assignment moves within a heartbeat.
 *
 * Redis offers no partition assignment of its own (Kafka consumer groups do,
 * for the bridge); this is the smallest one that is safe: the lease, not the
 * assignment, guarantees that one instance at a time consumes a unit.
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import { pipelineBySlot } from "@vigil/shared/redis_cluster";
import type { Logger } from "@vigil/shared/log";
import { sleep } from "@vigil/shared/lifecycle";
import { holdMemberName, type MemberName, releaseHold } from "./member_name.ts";

/** Heartbeat a member and list the live ones, by Redis server time. Single key. */
const HEARTBEAT = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)`;
/** 1 held (renewed, or acquired as it was free), 0 held by another owner. */
const CLAIM = `local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
/** 1 renewed, 0 held by another (taken over), -1 held by none (expired): never acquires. */
const RENEW = `local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2])
elseif holder then return 0 else return -1 end`;

const LEASE_EXPIRED =
  "lease of the unit expired: stopping it, its batch left to whoever acquires it (this instance too, at its next round)";
const LEASE_TAKEN = "lease of the unit lost to another instance: stopping it, its batch left to it";

/** A member's heartbeat and lease rounds: a third of the TTL (at least 50 ms). */
function roundMs(ttlMs: number): number {
  return Math.max(50, Math.floor(ttlMs / 3));
}

/**
 * The fence a unit's pipeline awaits before each batch (io/pipeline.ts):
 * renews the lease. Lost (another instance took the unit over, or it expired
 * while this one was busy or cut off): calls `onLost` (which stops the unit)
 * and rejects, so the batch is left unevaluated and unacknowledged to the
 * lease holder; the assignment starts the unit again if the lease becomes
 * this instance's. Redis unreachable: whether the lease is still held is
 * unknown, so it asks again every third of the TTL (at most 1 s) until it
 * knows or `signal` aborts.
 */
export function leaseFence(options: {
  redis: Redis;
  key: string;
  member: string;
  ttlMs: number;
  log: Logger;
  onLost: () => void;
}): (signal: AbortSignal) => Promise<void> {
  const { redis, key, member, ttlMs, log } = options;
  return async (signal) => {
    let said = false;
    for (;;) {
      let renewed: number;
      try {
        renewed = Number(await redis.eval(RENEW, 1, key, member, ttlMs));
      } catch (error) {
        if (!said) log.warn("cannot renew the lease of the unit, batch on hold", { error });
        said = true;
        await sleep(Math.min(1000, roundMs(ttlMs)), signal);
        continue;
      }
      if (renewed === 1) return;
      // Expired (no renewal within the TTL: Redis out of reach, this instance paused): a lone
      // detector acquires it again; taken (another instance holds it now): that one goes on.
      log.warn(renewed === -1 ? LEASE_EXPIRED : LEASE_TAKEN);
      options.onLost();
      throw new Error(`The lease ${key} is no longer held by ${member}`);
    }
  };
}

/** The units assigned to `member` when `members` are live: units and members sorted, i mod n. */
export function assign(
  units: readonly string[],
  members: readonly string[],
  member: string,
): string[] {
  const m = [...members].sort();
  const i = m.indexOf(member);
  if (i < 0) return [];
  return [...units].sort().filter((_, j) => j % m.length === i);
}

/** What the assignment drives: start and stop the consumption of a unit. */
export interface UnitControl {
  /** Start consuming `unit` (its lease is held). */
  start(unit: string): void;
  /** Stop consuming `unit`; resolves once its batch in hand and checkpoint are done. */
  stop(unit: string): Promise<void>;
  /**
   * Whether `unit` is still being consumed: false once its consumer stopped
   * by itself (its lease found lost before a batch, or an error). Such a unit
   * is started again, afresh, while its lease is (or becomes) this instance's.
   */
  isRunning(unit: string): boolean;
}

/** Options of {@link runAssignment}. */
export interface AssignmentOptions {
  redis: Redis;
  /** This instance's member id (unique per process). */
  member: string;
  membersKey: string;
  /** Every unit, and the lease key of each. */
  units: readonly string[];
  leaseKey(unit: string): string;
  ttlMs: number;
  control: UnitControl;
  log: Logger;
  /** Called with the units consumed after every change. */
  onChange?: (owned: readonly string[]) => void;
  /**
   * This process's hold of its member name (taken at start, `claimMemberName`): renewed every
   * round before the heartbeat; found taken by another process (this one was cut off or paused
   * past its TTL), the units stop until the name is this process's again.
   */
  name?: MemberName;
}

/**
 * Keep this instance's share of the units until `signal` aborts, then stop
 * them all, release their leases and leave.
 */
export async function runAssignment(
  options: AssignmentOptions,
  signal: AbortSignal,
): Promise<void> {
  const { redis, member, units, ttlMs, control } = options;
  const log = options.log.with({ member });
  const every = roundMs(ttlMs);
  const owned = new Set<string>();
  let failing = false;
  let nameLost = false;

  async function stopUnit(unit: string, release: boolean): Promise<void> {
    owned.delete(unit);
    await control.stop(unit);
    if (release) {
      await releaseHold(redis, options.leaseKey(unit), member).catch((error) =>
        log.warn("cannot release lease", { unit, error })
      );
    }
  }

  /** Whether this process (still) holds its member name; if not, its units stop. */
  async function holdName(name: MemberName): Promise<boolean> {
    const hold = await holdMemberName(redis, name);
    if (hold.held) {
      if (nameLost) log.info("member name held again: joining");
      nameLost = false;
      return true;
    }
    if (!nameLost) {
      log.error(
        "member name taken by another process (this one was cut off or paused past its TTL): " +
          "stopping the units; give each instance its own DETECTOR_MEMBER",
        { key: name.key },
      );
    }
    nameLost = true;
    // Leases hold the name, now the other process's: stopped without releasing them.
    await Promise.all([...owned].map((unit) => stopUnit(unit, false)));
    options.onChange?.([]);
    return false;
  }

  async function round(): Promise<void> {
    if (options.name && !(await holdName(options.name))) return;
    const members = await redis.eval(HEARTBEAT, 1, options.membersKey, member, ttlMs) as string[];
    const wanted = new Set(assign(units, members, member));
    // Give back what is no longer ours (a member joined), before taking anything; and settle a
    // unit that stopped by itself, to claim and start it again below. All at once: each stop
    // waits for its unit's batch in hand and checkpoint, and one after the other they could
    // outlast the TTL while this round sends no heartbeat.
    const stops: Promise<void>[] = [];
    for (const unit of [...owned]) {
      if (!wanted.has(unit)) {
        log.info("unit moves to another instance", { unit });
        stops.push(stopUnit(unit, true));
      } else if (!control.isRunning(unit)) {
        log.info("unit stopped by itself, starting it again when its lease is ours", { unit });
        stops.push(stopUnit(unit, false));
      }
    }
    await Promise.all(stops);
    const claims = [...wanted];
    // One pipeline per slot: on a cluster the leases live on different masters. A unit running
    // here is only renewed, never acquired again: its lease lapsed (this instance cut off or
    // paused), another instance may have consumed it meanwhile, so its windows are stale.
    const replies = await pipelineBySlot(
      redis,
      claims.map((unit) => {
        const key = options.leaseKey(unit);
        const script = owned.has(unit) ? RENEW : CLAIM;
        return { key, add: (p) => p.eval(script, 1, key, member, ttlMs) };
      }),
    );
    for (let i = 0; i < claims.length; i++) {
      const unit = claims[i]!;
      const [error, value] = replies[i] ?? [new Error("no reply"), 0];
      if (error) throw error;
      if (owned.has(unit) && Number(value) !== 1) {
        log.error(
          Number(value) === 0
            ? "lease taken over by another instance, stopping the unit"
            : "lease of the unit lapsed: stopping it, to start it afresh from its checkpoint",
          { unit },
        );
        await stopUnit(unit, false);
        continue;
      }
      if (Number(value) === 0) continue; // the previous holder has not let go yet: next round
      if (!owned.has(unit)) {
        owned.add(unit);
        log.info("unit acquired", { unit });
        control.start(unit);
      }
    }
    options.onChange?.([...owned].sort());
  }

  try {
    while (!signal.aborted) {
      try {
        await round();
        if (failing) log.info("assignment: Redis answers again");
        failing = false;
      } catch (error) {
        // Redis down or hung: keep consuming what we hold (nothing progresses without
        // Redis anyway); leases that expired meanwhile are re-acquired if still free.
        if (!failing) log.warn("assignment: cannot reach Redis, keeping the units", { error });
        failing = true;
      }
      await sleep(every, signal).catch(() => {});
    }
  } finally {
    await Promise.all([...owned].map((unit) => stopUnit(unit, true)));
    // A name lost to another process: its membership is that process's now.
    if (!nameLost) {
      await redis.zrem(options.membersKey, member).catch(() => {});
      // Give the name back, if this process still holds it.
      if (options.name) {
        await releaseHold(redis, options.name.key, options.name.token).catch(() => {});
      }
    }
  }
}
