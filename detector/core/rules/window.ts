/**
 * Sorted event-time windows per entity, with an expiry queue so pruning costs
 * O(expired) per sweep instead of O(entities).
 *
 * Memory matters (100,000 users in windows, most with one or two events):
 * an entity's window is one flat array of numbers, `stride` per event,
 * sorted by time: `t, stream id ms, stream id sequence, partition, offset`
 * (+ `value` for cpu readings). No object or string per event, and small
 * windows are kept at their exact size. {@link refAt} rebuilds an
 * {@link EventRef} for evidence only.
 *
 * @module
 */
import type { EventRef } from "./types.ts";

/** An entity's events, flattened (see the module doc). */
export type TimeWindow = number[];

/** Windows by entity plus a FIFO of (time, entity) for pruning. */
export interface WindowSet {
  byEntity: Map<string, TimeWindow>;
  queueT: number[];
  queueKey: string[];
  head: number;
  /** Numbers per event: 5, or 6 with a value. */
  stride: number;
}

/** Below this many numbers a window is reallocated at its exact size on insert. */
const EXACT_BELOW = 64;

/** An empty window set (`withValues`: keep a numeric value per event). */
export function createWindowSet(withValues = false): WindowSet {
  return { byEntity: new Map(), queueT: [], queueKey: [], head: 0, stride: withValues ? 6 : 5 };
}

/** Index of the first event of `w` with time > x. */
export function upperBoundT(w: TimeWindow, stride: number, x: number): number {
  let lo = 0, hi = w.length / stride;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (w[mid * stride]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of events in `w`. */
export function sizeOf(w: TimeWindow, stride: number): number {
  return w.length / stride;
}

/** Time of event `i`. */
export function timeAt(w: TimeWindow, stride: number, i: number): number {
  return w[i * stride]!;
}

/** Value of event `i` (sets with values). */
export function valueAt(w: TimeWindow, stride: number, i: number): number {
  return w[i * stride + 5]!;
}

/** The ref of event `i`. */
export function refAt(w: TimeWindow, stride: number, i: number): EventRef {
  const k = i * stride;
  return { id: `${w[k + 1]}-${w[k + 2]}`, partition: w[k + 3]!, offset: String(w[k + 4]) };
}

/** Refs of events [lo, hi). */
export function refsOf(w: TimeWindow, stride: number, lo: number, hi: number): EventRef[] {
  const out: EventRef[] = [];
  for (let i = lo; i < hi; i++) out.push(refAt(w, stride, i));
  return out;
}

/** One event's numbers. Stream ids are `ms-seq`, offsets decimal integers. */
function pack(stride: number, t: number, ref: EventRef, value: number): number[] {
  const dash = ref.id.indexOf("-");
  const ms = dash < 0 ? Number(ref.id) : Number(ref.id.slice(0, dash));
  const seq = dash < 0 ? 0 : Number(ref.id.slice(dash + 1));
  return stride === 6
    ? [t, ms, seq, ref.partition, Number(ref.offset), value]
    : [t, ms, seq, ref.partition, Number(ref.offset)];
}

/** Insert an event into `entity`'s window (kept sorted; late events go in place). */
export function insertEvent(
  set: WindowSet,
  entity: string,
  t: number,
  ref: EventRef,
  value = 0,
): TimeWindow {
  const s = set.stride;
  const ev = pack(s, t, ref, value);
  let w = set.byEntity.get(entity);
  if (w === undefined || w.length === 0) {
    w = ev;
    set.byEntity.set(entity, w);
  } else {
    const n = w.length / s;
    const i = w[(n - 1) * s]! <= t ? n : upperBoundT(w, s, t);
    if (w.length < EXACT_BELOW) {
      w = i === n ? w.concat(ev) : w.slice(0, i * s).concat(ev, w.slice(i * s));
      set.byEntity.set(entity, w);
    } else if (i === n) {
      for (let k = 0; k < s; k++) w.push(ev[k]!);
    } else {
      w.splice(i * s, 0, ...ev);
    }
  }
  set.queueT.push(t);
  set.queueKey.push(entity);
  return w;
}

/** Index range [lo, hi) of events with time in (end - span, end]. */
export function rangeEndingAt(
  w: TimeWindow,
  stride: number,
  end: number,
  span: number,
): [number, number] {
  return [upperBoundT(w, stride, end - span), upperBoundT(w, stride, end)];
}

/**
 * {@link rangeEndingAt} without the events that left every window: those at or
 * before `watermark - span`. Rules count by range, so expired events stay in
 * a window until sweep() prunes it (once per batch) instead of shifting the
 * window on every event.
 */
export function liveRangeEndingAt(
  w: TimeWindow,
  stride: number,
  end: number,
  span: number,
  watermark: number,
): [number, number] {
  const [lo, hi] = rangeEndingAt(w, stride, end, span);
  return [Math.max(lo, upperBoundT(w, stride, watermark - span)), hi];
}

/** Drop `entity`'s events at or before `cutoff`, deleting an emptied window; returns what remains. */
export function pruneEntity(
  set: WindowSet,
  entity: string,
  cutoff: number,
): TimeWindow | undefined {
  const w = set.byEntity.get(entity);
  if (w === undefined || w[0]! > cutoff) return w;
  const k = upperBoundT(w, set.stride, cutoff);
  if (k * set.stride >= w.length) {
    set.byEntity.delete(entity);
    return undefined;
  }
  if (w.length >= EXACT_BELOW) {
    w.splice(0, k * set.stride);
    return w;
  }
  const rest = w.slice(k * set.stride);
  set.byEntity.set(entity, rest);
  return rest;
}

/** Drop events at or before `cutoff` (queue order), deleting empty windows. */
export function pruneWindows(set: WindowSet, cutoff: number): void {
  const { queueT, queueKey } = set;
  let h = set.head;
  while (h < queueT.length && queueT[h]! <= cutoff) {
    pruneEntity(set, queueKey[h]!, cutoff);
    h++;
  }
  if (h > 4096 && h * 2 > queueT.length) {
    set.queueT = queueT.slice(h);
    set.queueKey = queueKey.slice(h);
    h = 0;
  }
  set.head = h;
}

/**
 * Forget whole entities until at most `max` remain, those whose oldest event
 * is oldest first (the queue's order; a queue entry of an entity whose window
 * has no event that old any more is stale and skipped). Returns how many
 * were forgotten. O(forgotten + stale entries passed).
 */
export function evictOldest(set: WindowSet, max: number): number {
  const { queueT, queueKey, byEntity } = set;
  let h = set.head;
  let evicted = 0;
  while (byEntity.size > max && h < queueT.length) {
    const key = queueKey[h]!;
    const w = byEntity.get(key);
    if (w !== undefined && w[0]! <= queueT[h]!) {
      byEntity.delete(key);
      evicted++;
    }
    h++;
  }
  set.head = h;
  return evicted;
}

/**
 * JSON-able snapshot, unaffected by later inserts and prunes:
 * `{ v: 3, stride, windows: [entity, numbers[]][] }` (fast to serialise).
 */
export function saveWindows(set: WindowSet): unknown {
  const out: unknown[] = [];
  // Small windows are replaced, never changed, on insert and prune: sharing
  // them keeps the snapshot cheap. Large ones change in place: copied.
  for (const [entity, w] of set.byEntity) {
    out.push([entity, w.length >= EXACT_BELOW ? w.slice() : w]);
  }
  return { v: 3, stride: set.stride, windows: out };
}

/** Window set from {@link saveWindows}' output. @throws {TypeError} when malformed */
export function loadWindows(raw: unknown): WindowSet {
  const r = raw as { v?: unknown; stride?: unknown; windows?: unknown } | null;
  if (
    !r || typeof r !== "object" || r.v !== 3 || (r.stride !== 5 && r.stride !== 6) ||
    !Array.isArray(r.windows)
  ) throw new TypeError("Cannot load windows: unknown format");
  const set = createWindowSet(r.stride === 6);
  const s = set.stride;
  const all: [number, string][] = [];
  for (const item of r.windows) {
    if (
      !Array.isArray(item) || typeof item[0] !== "string" || !Array.isArray(item[1]) ||
      item[1].length === 0 || item[1].length % s !== 0 ||
      !(item[1] as unknown[]).every((x) => typeof x === "number")
    ) throw new TypeError("Cannot load windows: malformed window");
    const entity = item[0];
    const w = item[1] as number[];
    set.byEntity.set(entity, w);
    for (let i = 0; i < w.length; i += s) all.push([w[i]!, entity]);
  }
  all.sort((a, b) => a[0] - b[0]);
  set.queueT = all.map((x) => x[0]);
  set.queueKey = all.map((x) => x[1]);
  return set;
}
