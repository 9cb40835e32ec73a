/**
 * Sorted event-time windows per entity, with an expiry index so pruning costs
 * O(entities with expired events) per sweep instead of O(entities).
 *
 * Memory matters (100,000 users in windows, most with a few events): an
 * entity's window is one flat array of numbers, `stride` per event, sorted
 * by time. Normally (stride 3, or 4 with a `value` for cpu readings) an
 * event is `t, stream id, Kafka position`, the stream id `ms-seq` packed as
 * `ms · 2^11 + seq` and the position as `partition · 2^41 + offset`: exact
 * in a double while ms < 2^42 (year 2109), seq < 2048, partition < 4096 and
 * offset < 2^41. A set that meets an event outside those bounds is widened
 * once to the unpacked layout (stride 5 or 6: `t, ms, seq, partition,
 * offset`), so every ref stays exact. No object or string per event, and
 * small windows are kept at their exact size. {@link refAt} rebuilds an
 * {@link EventRef} for evidence only. Packing saves about 13 MB of heap with
 * 98,000 users in each of two rules (docs/benchmarks.md, detector memory).
 *
 * The expiry index holds one entry per entity (not per event): the entity's
 * key in the bucket of its oldest event's time (`BUCKET_MS` wide). A sweep
 * prunes the entities of every bucket wholly before the cutoff and files
 * each again under its new oldest event, so an expired event stays at most
 * `BUCKET_MS` past its window (rules count live ranges only, so that does
 * not change any outcome), and {@link evictOldest} takes entities oldest
 * first from the same index.
 *
 * @module
 */
import type { EventRef } from "./types.ts";

/** An entity's events, flattened (see the module doc). */
export type TimeWindow = number[];

/** Windows by entity plus their expiry index (see the module doc). */
export interface WindowSet {
  byEntity: Map<string, TimeWindow>;
  /** Bucket number (oldest event time / `BUCKET_MS`, floored) → the entities filed there. */
  buckets: Map<number, string[]>;
  /** The bucket numbers in ascending order, from `head` on. */
  order: number[];
  head: number;
  /** Numbers per event: 3 packed or 5 unpacked, one more with a value (see the module doc). */
  stride: number;
}

/** Width of the expiry buckets in ms of event time. */
export const BUCKET_MS = 1000;

/** Below this many numbers a window is reallocated at its exact size on insert. */
const EXACT_BELOW = 64;

/** An empty window set (`withValues`: keep a numeric value per event). */
export function createWindowSet(withValues = false): WindowSet {
  return {
    byEntity: new Map(),
    buckets: new Map(),
    order: [],
    head: 0,
    stride: withValues ? 4 : 3,
  };
}

/** `ms · SEQ_SPAN + seq` packs a stream id. */
const SEQ_SPAN = 2 ** 11;
/** `partition · OFFSET_SPAN + offset` packs a Kafka position. */
const OFFSET_SPAN = 2 ** 41;

/** A stream id packed (see the module doc; for `packable` refs only). */
const packId = (ms: number, seq: number) => ms * SEQ_SPAN + seq;
/** A Kafka position packed (see the module doc; for `packable` refs only). */
const packPos = (partition: number, offset: number) => partition * OFFSET_SPAN + offset;

/** Whether events of `stride` are packed. */
function isPacked(stride: number): boolean {
  return stride < 5;
}

/** Whether events of `stride` end with a value (strides 4 and 6). */
function hasValue(stride: number): boolean {
  return stride % 2 === 0;
}

/** The stream id and Kafka position of a ref as numbers. */
function refNumbers(ref: EventRef): [ms: number, seq: number, partition: number, offset: number] {
  const dash = ref.id.indexOf("-");
  const ms = dash < 0 ? Number(ref.id) : Number(ref.id.slice(0, dash));
  const seq = dash < 0 ? 0 : Number(ref.id.slice(dash + 1));
  return [ms, seq, ref.partition, Number(ref.offset)];
}

const fits = (x: number, span: number) => Number.isInteger(x) && x >= 0 && x < span;

/** Whether a ref's numbers pack exactly (see the module doc). */
function packable(ms: number, seq: number, partition: number, offset: number): boolean {
  return fits(ms, 2 ** 42) && fits(seq, SEQ_SPAN) && fits(partition, 2 ** 12) &&
    fits(offset, OFFSET_SPAN);
}

/** Rewrite every window of `set` from one layout to the other (`packed`: to stride 3/4). */
function relayout(set: WindowSet, packed: boolean): void {
  const from = set.stride;
  const to = packed ? from - 2 : from + 2;
  for (const [entity, w] of set.byEntity) {
    const out: number[] = [];
    for (let k = 0; k < w.length; k += from) {
      const t = w[k]!;
      const tail = hasValue(from) ? [w[k + from - 1]!] : [];
      if (packed) {
        out.push(t, packId(w[k + 1]!, w[k + 2]!), packPos(w[k + 3]!, w[k + 4]!), ...tail);
      } else {
        const [ms, seq, partition, offset] = unpack(w, k);
        out.push(t, ms, seq, partition, offset, ...tail);
      }
    }
    set.byEntity.set(entity, out);
  }
  set.stride = to;
}

/** The stream id and Kafka position of the packed event at `k`. */
function unpack(w: TimeWindow, k: number): [number, number, number, number] {
  const id = w[k + 1]!, pos = w[k + 2]!;
  const ms = Math.floor(id / SEQ_SPAN), partition = Math.floor(pos / OFFSET_SPAN);
  return [ms, id - ms * SEQ_SPAN, partition, pos - partition * OFFSET_SPAN];
}

/** File `entity` in the expiry index under its oldest event's time `t`. */
function fileEntity(set: WindowSet, entity: string, t: number): void {
  const b = Math.floor(t / BUCKET_MS);
  const list = set.buckets.get(b);
  if (list !== undefined) {
    list.push(entity);
    return;
  }
  set.buckets.set(b, [entity]);
  const o = set.order;
  if (o.length === set.head || o[o.length - 1]! < b) {
    o.push(b);
    return;
  }
  let lo = set.head, hi = o.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (o[mid]! < b) lo = mid + 1;
    else hi = mid;
  }
  o.splice(lo, 0, b);
}

/** Drop the consumed bucket numbers before `head` once they are many. */
function compactOrder(set: WindowSet): void {
  if (set.head > 1024 && set.head * 2 > set.order.length) {
    set.order = set.order.slice(set.head);
    set.head = 0;
  }
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

/** Value of event `i` (sets with values: the last number of an event). */
export function valueAt(w: TimeWindow, stride: number, i: number): number {
  return w[i * stride + stride - 1]!;
}

/** The ref of event `i`. */
export function refAt(w: TimeWindow, stride: number, i: number): EventRef {
  const k = i * stride;
  const [ms, seq, partition, offset] = isPacked(stride)
    ? unpack(w, k)
    : [w[k + 1]!, w[k + 2]!, w[k + 3]!, w[k + 4]!];
  return { id: `${ms}-${seq}`, partition, offset: String(offset) };
}

/** Refs of events [lo, hi). */
export function refsOf(w: TimeWindow, stride: number, lo: number, hi: number): EventRef[] {
  const out: EventRef[] = [];
  for (let i = lo; i < hi; i++) out.push(refAt(w, stride, i));
  return out;
}

/**
 * One event's numbers in `set`'s layout (stream ids are `ms-seq`, offsets
 * decimal integers); widens the set first when the ref does not pack.
 */
function eventNumbers(set: WindowSet, t: number, ref: EventRef, value: number): number[] {
  const [ms, seq, partition, offset] = refNumbers(ref);
  if (isPacked(set.stride) && !packable(ms, seq, partition, offset)) relayout(set, false);
  const ev = isPacked(set.stride)
    ? [t, packId(ms, seq), packPos(partition, offset)]
    : [t, ms, seq, partition, offset];
  if (hasValue(set.stride)) ev.push(value);
  return ev;
}

/** Insert an event into `entity`'s window (kept sorted; late events go in place). */
export function insertEvent(
  set: WindowSet,
  entity: string,
  t: number,
  ref: EventRef,
  value = 0,
): TimeWindow {
  const ev = eventNumbers(set, t, ref, value);
  const s = set.stride;
  let w = set.byEntity.get(entity);
  if (w === undefined || w.length === 0) {
    w = ev;
    set.byEntity.set(entity, w);
    fileEntity(set, entity, t);
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
  return w;
}

/**
 * Index range [lo, hi) of events with time in (end - span, end], without the
 * events that left every window: those at or before `watermark - span`. Rules
 * count by range, so expired events stay in a window until sweep() prunes it
 * (once per batch) instead of shifting the window on every event.
 */
export function liveRangeEndingAt(
  w: TimeWindow,
  stride: number,
  end: number,
  span: number,
  watermark: number,
): [number, number] {
  return [upperBoundT(w, stride, Math.max(end, watermark) - span), upperBoundT(w, stride, end)];
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

/**
 * Drop events at or before `cutoff`, deleting empty windows: every entity
 * filed in a bucket wholly at or before `cutoff` is pruned and filed again
 * under its new oldest event.
 */
export function pruneWindows(set: WindowSet, cutoff: number): void {
  const limit = Math.floor(cutoff / BUCKET_MS); // buckets below end at or before cutoff
  while (set.head < set.order.length && set.order[set.head]! < limit) {
    const b = set.order[set.head++]!;
    const list = set.buckets.get(b)!;
    set.buckets.delete(b);
    for (const entity of list) {
      const w = pruneEntity(set, entity, cutoff);
      // Its new oldest event is after cutoff: filed in a bucket at `limit` or later.
      if (w !== undefined) fileEntity(set, entity, w[0]!);
    }
  }
  compactOrder(set);
}

/**
 * Forget whole entities until at most `max` remain, those filed under the
 * oldest events first. Returns how many were forgotten. O(forgotten).
 */
export function evictOldest(set: WindowSet, max: number): number {
  const { byEntity, buckets } = set;
  let evicted = 0;
  while (byEntity.size > max && set.head < set.order.length) {
    const b = set.order[set.head]!;
    const list = buckets.get(b)!;
    let i = 0;
    while (i < list.length && byEntity.size > max) {
      if (byEntity.delete(list[i]!)) evicted++;
      i++;
    }
    if (i < list.length) {
      buckets.set(b, list.slice(i));
    } else {
      buckets.delete(b);
      set.head++;
    }
  }
  compactOrder(set);
  return evicted;
}

/**
 * JSON-able snapshot, unaffected by later inserts and prunes:
 * `{ v: 3, stride, windows: [entity, numbers[]][] }` (fast to serialise; a
 * widening insert rewrites every window, so the snapshot keeps the layout it
 * names).
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
    !r || typeof r !== "object" || r.v !== 3 || ![3, 4, 5, 6].includes(r.stride as number) ||
    !Array.isArray(r.windows)
  ) throw new TypeError("Cannot load windows: unknown format");
  const set = createWindowSet(hasValue(r.stride as number));
  const s = set.stride = r.stride as number;
  for (const item of r.windows) {
    if (
      !Array.isArray(item) || typeof item[0] !== "string" || !Array.isArray(item[1]) ||
      item[1].length === 0 || item[1].length % s !== 0 ||
      !(item[1] as unknown[]).every((x) => typeof x === "number")
    ) throw new TypeError("Cannot load windows: malformed window");
    const entity = item[0];
    const w = item[1] as number[];
    set.byEntity.set(entity, w);
    fileEntity(set, entity, w[0]!);
  }
  // Saved unpacked (an older detector, or a ref that did not pack): packed when every ref packs.
  if (!isPacked(s) && [...set.byEntity.values()].every((w) => everyRefPacks(w, s))) {
    relayout(set, true);
  }
  return set;
}

function everyRefPacks(w: TimeWindow, stride: number): boolean {
  for (let k = 0; k < w.length; k += stride) {
    if (!packable(w[k + 1]!, w[k + 2]!, w[k + 3]!, w[k + 4]!)) return false;
  }
  return true;
}
