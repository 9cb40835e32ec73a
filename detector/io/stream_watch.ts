/**
 * The stream-level no-data watch (core/stream_silence.ts) on a timer: every
 * `intervalMs`, for each event type whose partition 0 this instance consumes
 * (so exactly one live instance judges a type), the newest entry of every
 * partition of the type's stream (the entry id's time, set by Redis when the
 * bridge appended it) is read and judged. Firings and resolutions go through
 * the detector's store-and-publish path like the pipeline's.
 *
 * Alerts stored earlier (before a restart, or by the instance that judged the
 * type before) are read back from PostgreSQL when this instance starts
 * judging a type, so they resolve here when the stream comes back.
 *
 * @module
 */
import type { Redis } from "@vigil/shared/redis";
import { sleep } from "@vigil/shared/lifecycle";
import { pipelineBySlot } from "@vigil/shared/redis_cluster";
import type { Keys } from "@vigil/shared/keys";
import type { Logger } from "@vigil/shared/log";
import { EVENT_TYPES, type EventType } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../core/rules_config.ts";
import type { Firing, Resolution } from "../core/rules/types.ts";
import {
  adoptOpenStream,
  checkStream,
  createStreamSilence,
  WHOLE_STREAM,
} from "../core/stream_silence.ts";
import type { AnomalyStore } from "./store.ts";

/** Dependencies of {@link runStreamWatch}. */
export interface StreamWatchDeps {
  redis: Pick<Redis, "pipeline" | "isCluster">;
  keys: Keys;
  partitions: number;
  rules(): RulesConfig;
  store: Pick<AnomalyStore, "open">;
  /** Whether this instance consumes partition 0 of `type` now. */
  owns(type: EventType): boolean;
  /** Store and publish (the detector's path). */
  emit(firings: Firing[], resolutions: Resolution[], signal: AbortSignal): Promise<unknown>;
  log: Logger;
  /** @default {10000} */
  intervalMs?: number;
  now?: () => number;
}

/** Newest append time (ms) over the partitions of `type`'s stream, null when all are empty. */
export async function lastAppend(
  redis: Pick<Redis, "pipeline" | "isCluster">,
  keys: Keys,
  type: EventType,
  partitions: number,
): Promise<number | null> {
  // One pipeline per slot: on a cluster the partitions live on different masters.
  const replies = await pipelineBySlot(
    redis,
    Array.from({ length: partitions }, (_, i) => {
      const key = keys.events(type, i);
      return { key, add: (p) => p.xrevrange(key, "+", "-", "COUNT", 1) };
    }),
  );
  let newest: number | null = null;
  for (const [error, reply] of replies) {
    if (error) throw error;
    const id = Array.isArray(reply) ? (reply[0] as [string] | undefined)?.[0] : undefined;
    const ms = id === undefined ? NaN : Number(id.split("-")[0]);
    if (Number.isFinite(ms) && (newest === null || ms > newest)) newest = ms;
  }
  return newest;
}

/** Run the watch until `signal` aborts. */
export async function runStreamWatch(deps: StreamWatchDeps, signal: AbortSignal): Promise<void> {
  const now = deps.now ?? Date.now;
  const state = createStreamSilence(now());
  const judged = new Set<EventType>();
  const log = deps.log.with({ part: "stream watch" });

  async function adoptStored(type: EventType): Promise<void> {
    // Only the stream-level rows: open per-entity alerts, however many, must not crowd them out.
    for (const row of await deps.store.open("no_data", 1000, WHOLE_STREAM)) {
      const d = (row.details ?? {}) as Record<string, unknown>;
      if (row.type !== type || row.entity !== WHOLE_STREAM || d.scope !== "stream") continue;
      const last = Date.parse(String(d.last_append));
      if (Number.isFinite(last)) adoptOpenStream(state, type, { id: row.id, lastAppend: last });
    }
  }

  while (!signal.aborted) {
    for (const type of EVENT_TYPES) {
      if (signal.aborted) break;
      if (!deps.owns(type)) {
        judged.delete(type);
        state.open.delete(type);
        state.seen.delete(type);
        continue;
      }
      try {
        if (!judged.has(type)) {
          await adoptStored(type);
          judged.add(type);
        }
        const last = await lastAppend(deps.redis, deps.keys, type, deps.partitions);
        const findings = checkStream(state, type, last, now(), deps.rules().no_data.stream);
        if (findings.length === 0) continue;
        const firings = findings.filter((f): f is Firing => f.kind === "firing");
        const resolutions = findings.filter((f): f is Resolution => f.kind === "resolved");
        await deps.emit(firings, resolutions, signal);
        log.warn(firings.length > 0 ? "stream quiet" : "stream reporting again", { type });
      } catch (error) {
        if (signal.aborted) break;
        // Judged again next round (the findings are idempotent).
        judged.delete(type);
        state.open.delete(type);
        log.warn("cannot check the stream for silence", { type, error });
      }
    }
    await sleep(deps.intervalMs ?? 10_000, signal).catch(() => {});
  }
}
