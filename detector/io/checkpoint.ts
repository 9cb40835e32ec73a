/**
 * Checkpoints of a stream's window/engine state in Redis: a hash
 * `keys.detectorState(name)` with `last_id` (the last stream id the state
 * includes), `state` (JSON) and `saved_at`. Written only after the entries up
 * to `last_id` are stored and acknowledged, so replaying the stream after
 * `last_id` reproduces exactly the state a killed detector had.
 *
 * @module
 */
import type { Redis } from "ioredis";

/** A saved checkpoint. */
export interface Checkpoint {
  lastId: string;
  state: string;
  savedAt: number;
}

/** Where checkpoints live. */
export interface CheckpointStore {
  load(): Promise<Checkpoint | null>;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** A checkpoint store on the Redis hash `key`. */
export function createRedisCheckpointStore(redis: Redis, key: string): CheckpointStore {
  return {
    async load() {
      const h = await redis.hgetall(key);
      if (!h.last_id || h.state === undefined) return null;
      return { lastId: h.last_id, state: h.state, savedAt: Number(h.saved_at ?? 0) };
    },
    async save(c) {
      await redis.hset(key, { last_id: c.lastId, state: c.state, saved_at: String(c.savedAt) });
    },
  };
}
