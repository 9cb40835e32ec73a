/**
 * Checkpoints of a stream's window/engine state in Redis: a hash
 * `keys.detectorState(unit)` with `last_id` (the last stream id the state
 * includes), the state's JSON text in `chunks` fields `state:0` …
 * `state:<chunks-1>`, and `saved_at`. Written only after the entries up to
 * `last_id` are stored and acknowledged, so replaying the stream after
 * `last_id` reproduces exactly the state a killed detector had.
 *
 * The snapshot is taken between two batches (so it is exactly the state up
 * to `last_id`); serialising and writing it run in the background while the
 * next batches are processed, at most one at a time and at most every
 * `intervalMs`, and no more often than its size allows at `charsPerSecond`
 * (1 MiB/s by default: 100,000 users in windows make ~24 MB of JSON, so
 * about every 24 s; a crash replays that much more of the stream). The text
 * is written chunk by chunk (about 64 KiB each) into this instance's
 * `keys.detectorStateNext(unit, member)`, each chunk serialised only once the
 * one before is in Redis, then renamed over the checkpoint in one step, by a
 * script that first checks the unit's lease is still this instance's: a
 * crash mid-write leaves the previous checkpoint whole, an instance that
 * stalled past its lease (cut off from Redis, paused) cannot overwrite the
 * newer checkpoint of the instance that took the unit over nor mix its
 * chunks into it, and the detector never
 * holds the whole text (tens of MB with 100,000 entities) in memory. Every
 * piece of text stays under V8's large-object size, so a checkpoint's tens
 * of MB are short-lived young-generation garbage, not old-generation growth
 * (json_yielding.ts).
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import { createRepeatFilter, type Logger } from "@vigil/shared/log";
import type { Evaluator } from "../core/evaluator.ts";
import { jsonChunks } from "./json_yielding.ts";

/** A saved checkpoint. */
export interface Checkpoint {
  lastId: string;
  state: string;
  savedAt: number;
}

/** A checkpoint to save, its state text in consecutive chunks. */
export type CheckpointWrite = Omit<Checkpoint, "state"> & { chunks: AsyncIterable<string> };

/** Where checkpoints live. */
export interface CheckpointStore {
  load(): Promise<Checkpoint | null>;
  /** Store a checkpoint, reading its chunks one at a time; the previous one stays until it is complete. */
  save(checkpoint: CheckpointWrite): Promise<void>;
}

/** A writer's chunks left by a crash mid-write expire after this. */
const NEXT_TTL_MS = 600_000;

/**
 * Complete a checkpoint: its fields, then RENAME over the current one
 * (without the write's expiry), only while `ARGV[1]` holds the lease
 * (KEYS: next, state, lease, one slot). 1 saved, 0 lease lost (write dropped).
 */
const COMMIT = `if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HSET', KEYS[1], 'last_id', ARGV[2], 'chunks', ARGV[3], 'saved_at', ARGV[4])
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PERSIST', KEYS[2])
return 1`;

/**
 * A checkpoint store on the Redis hash `key`, written through `nextKey`
 * (this writer's own) under the lease `leaseKey` held by `member` (one hash
 * tag for the three: the commit script and RENAME need one slot).
 */
export function createRedisCheckpointStore(
  redis: Redis,
  keys: { key: string; nextKey: string; leaseKey: string; member: string },
): CheckpointStore {
  const { key, nextKey, leaseKey, member } = keys;
  return {
    async load() {
      const h = await redis.hgetall(key);
      if (!h.last_id) return null;
      let state = h.state; // written before chunks (one field)
      if (h.chunks !== undefined) {
        const parts: string[] = [];
        for (let i = 0; i < Number(h.chunks); i++) {
          const part = h[`state:${i}`];
          if (part === undefined) {
            throw new TypeError(`Cannot load checkpoint ${key}: chunk ${i} missing`);
          }
          parts.push(part);
        }
        state = parts.join("");
      }
      if (state === undefined) return null;
      return { lastId: h.last_id, state, savedAt: Number(h.saved_at ?? 0) };
    },
    async save(c) {
      await redis.del(nextKey);
      let n = 0;
      for await (const chunk of c.chunks) {
        await redis.hset(nextKey, `state:${n++}`, chunk);
        if (n === 1) await redis.pexpire(nextKey, NEXT_TTL_MS);
      }
      const args = [nextKey, key, leaseKey, member, c.lastId, String(n), String(c.savedAt)];
      const saved = await redis.eval(COMMIT, 3, ...args);
      if (Number(saved) !== 1) {
        throw new Error("Cannot save checkpoint: the unit's lease is no longer this instance's");
      }
    },
  };
}

/** Checkpoints of one evaluator. */
export interface Checkpointer {
  /** Load the saved state into the evaluator; the last stream id it covers, or null. */
  restore(): Promise<string | null>;
  /** Entries up to `lastId` are acknowledged: checkpoint if due (`force`: now). */
  committed(lastId: string, force: boolean): void;
  /** Nothing new: write a checkpoint that the interval postponed. */
  idle(): Promise<void>;
  /** Wait for the checkpoint being written. */
  flush(): Promise<void>;
}

/**
 * Checkpoint `evaluator` to `store` at most every `intervalMs`, and at most
 * `charsPerSecond` of state text on average: after a checkpoint of n
 * characters the next waits at least n / charsPerSecond seconds.
 */
export function createCheckpointer(options: {
  evaluator: Evaluator;
  store: CheckpointStore;
  intervalMs: number;
  log: Logger;
  now?: () => number;
  /** Average serialisation budget. @default {1048576} */
  charsPerSecond?: number;
}): Checkpointer {
  const { evaluator, store, intervalMs, log } = options;
  const now = options.now ?? Date.now;
  const rate = options.charsPerSecond ?? 1 << 20;
  let lastSaved = 0;
  /** Size of the last checkpoint written (characters). */
  let lastChars = 0;
  /** Last committed id not covered by a checkpoint yet. */
  let unsaved: string | null = null;
  let inflight: Promise<void> | null = null;
  /** A failing save is retried at every commit (a second apart): warn once a minute. */
  const failure = createRepeatFilter(60_000, now);
  let failures = 0;

  function save(lastId: string, t: number): void {
    lastSaved = t;
    unsaved = null;
    const snapshot = evaluator.snapshot();
    inflight = (async () => {
      try {
        let chars = 0;
        const counted = async function* () {
          for await (const chunk of jsonChunks(snapshot)) {
            chars += chunk.length;
            yield chunk;
          }
        };
        await store.save({ lastId, chunks: counted(), savedAt: t });
        lastChars = chars;
        if (failures) log.info("checkpoint saved again", { failures });
        failures = 0;
      } catch (error) {
        // Not fatal: the next checkpoint covers it; a crash meanwhile replays a little more.
        unsaved ??= lastId;
        failures++;
        const { write, held } = failure("save");
        if (write) log.warn("cannot save checkpoint", held ? { error, repeated: held } : { error });
        else log.debug("cannot save checkpoint", { error });
      } finally {
        inflight = null;
      }
    })();
  }

  return {
    async restore() {
      // A restore may follow a takeover: whatever this instance held before is stale.
      evaluator.reset();
      try {
        const c = await store.load();
        if (!c) {
          log.info("no checkpoint: windows are rebuilt from the stream");
          return null;
        }
        const reset = evaluator.load(c.state);
        log.info("checkpoint restored", {
          last_id: c.lastId,
          saved_at: new Date(c.savedAt).toISOString(),
          ...(reset.length ? { reset } : {}),
        });
        return c.lastId;
      } catch (error) {
        evaluator.reset();
        log.error("cannot restore checkpoint, rebuilding from the stream", { error });
        return null;
      }
    },
    committed(lastId, force) {
      const t = now();
      const gap = Math.max(intervalMs, (lastChars / rate) * 1000);
      // A clock set back (t before the last checkpoint) would hold checkpoints until it caught up.
      if (inflight !== null || (!force && t >= lastSaved && t - lastSaved < gap)) unsaved = lastId;
      else save(lastId, t);
    },
    async idle() {
      if (inflight !== null) await inflight;
      if (unsaved !== null) save(unsaved, now());
    },
    async flush() {
      while (inflight !== null) await inflight;
    },
  };
}
