/**
 * What a batch's script calls wrote, over all its attempts, for the
 * bridge's counters. A batch is retried whole when one of its calls was
 * refused (a full stream, a Redis error): the calls an earlier attempt
 * applied then answer their items as skipped, though this batch wrote them.
 * So each call is counted once, by the attempt that applied it: its items
 * at or below the stream's high-water (a prefix, offsets increase) were
 * redelivered, the others written.
 *
 * @module
 */
import type { EventType } from "@vigil/shared/schemas/event";
import type { Classified } from "./classify.ts";

/**
 * What an item of a call counts as: its message (an event of its type, a
 * dead letter of its reason kind), a gap record, or nothing (an event's copy
 * in a projection stream: the message is counted by its own stream).
 */
export type Counted = Classified | "gap" | null;

/** What a batch's calls wrote over all its attempts. */
export interface AppendTally {
  /** Gap records written. */
  gaps: number;
  /** Events written to their stream, by type. */
  events: Map<EventType, number>;
  /** Dead letters written, by reason kind. */
  dead: Map<string, number>;
  /** Messages skipped as redelivered: written before this batch's first attempt. */
  duplicates: number;
  /** Indexes of the calls an attempt applied (counted then). */
  applied: Set<number>;
}

/** An empty tally, for a batch's first attempt. */
export function createTally(): AppendTally {
  return { gaps: 0, events: new Map(), dead: new Map(), duplicates: 0, applied: new Set() };
}

const inc = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);

/** Count call `index` (its items `counts`), applied with `skipped` items redelivered; once. */
export function tallyCall(
  tally: AppendTally,
  index: number,
  counts: readonly Counted[],
  skipped: number,
): void {
  if (tally.applied.has(index)) return;
  tally.applied.add(index);
  counts.forEach((c, i) => {
    if (c === null) return;
    if (i < skipped) {
      if (c !== "gap") tally.duplicates++;
    } else if (c === "gap") tally.gaps++;
    else if (c.kind === "event") inc(tally.events, c.type);
    else inc(tally.dead, c.reasonKind);
  });
}
