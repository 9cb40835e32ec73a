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
 * is written chunk by chunk (about 64 KiB each) into
 * `keys.detectorStateNext(unit)`, each chunk serialised only once the one
 * before is in Redis, then renamed over the checkpoint in one step: a crash
 * mid-write leaves the previous checkpoint whole, and the detector never
 * holds the whole text (tens of MB with 100,000 entities) in memory. Every
 * piece of text stays under V8's large-object size, so a checkpoint's tens
 * of MB are short-lived young-generation garbage, not old-generation growth
 * (json_yielding.ts).
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import type { Logger } from "@vigil/shared/log";
import type { Evaluator } from "../core/evaluator.ts";
import { jsonChunks } from "./json_yielding.ts";

/** A saved checkpoint. */
export interface Checkpoint {
  lastId: string;
  state: string;
  savedAt: number;
}

/** A checkpoint to save, its state text in consecutive chunks. */
export interface CheckpointWrite {
  lastId: string;
  chunks: AsyncIterable<string>;
  savedAt: number;
}

/** Where checkpoints live. */
export interface CheckpointStore {
  load(): Promise<Checkpoint | null>;
  /** Store a checkpoint, reading its chunks one at a time; the previous one stays until it is complete. */
  save(checkpoint: CheckpointWrite): Promise<void>;
}

/**
 * A checkpoint store on the Redis hash `key`, written through `nextKey` (same
 * hash tag: RENAME needs both in one slot).
 */
export function createRedisCheckpointStore(
  redis: Redis,
  keys: { key: string; nextKey: string },
): CheckpointStore {
  const { key, nextKey } = keys;
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
      for await (const chunk of c.chunks) await redis.hset(nextKey, `state:${n++}`, chunk);
      await redis.multi()
        .hset(nextKey, { last_id: c.lastId, chunks: String(n), saved_at: String(c.savedAt) })
        .rename(nextKey, key)
        .exec()
        .then((replies) => {
          for (const [error] of replies ?? []) if (error) throw error;
        });
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
      } catch (error) {
        // Not fatal: the next checkpoint covers it; a crash meanwhile replays a little more.
        unsaved ??= lastId;
        log.warn("cannot save checkpoint", { error });
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
        evaluator.load(c.state);
        log.info("checkpoint restored", {
          last_id: c.lastId,
          saved_at: new Date(c.savedAt).toISOString(),
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
      if (inflight !== null || (!force && t - lastSaved < gap)) unsaved = lastId;
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
