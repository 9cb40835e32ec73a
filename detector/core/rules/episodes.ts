/**
 * Episodes: the cooldown and resolution bookkeeping every rule shares.
 *
 * For each (rule, subject, severity) the book remembers when the condition
 * last fired, when it was last seen true, when it will have cleared if
 * nothing new happens (`clearAt`), and which anomaly rows are still open.
 *
 * - A condition that holds at event time `t` fires when it never fired or
 *   `t >= firedAt + cooldown`; otherwise it only extends the open episode.
 * - It resolves when seen false after its last true observation
 *   (`conditionFalse`), or once the watermark is past `clearAt` (`sweep`), with
 *   `resolved_at = clearAt`. Because that time comes from the events, the
 *   outcome does not depend on when the sweep runs (batch boundaries).
 * - Anomaly ids are a hash of rule|subject|severity|event time|stream id, so
 *   re-running the same events from a checkpoint yields the same ids.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { EventType } from "@vigil/shared/schemas/event";
import type { Severity } from "@vigil/shared/schemas/alert";
import type { Finding, Reading } from "./types.ts";

/** One (rule, subject, severity) episode. */
export interface Episode {
  rule: string;
  type: EventType;
  entity: string;
  severity: Severity;
  firedAt: number;
  /** End of the cooldown that started at `firedAt`. */
  until: number;
  /**
   * The stream watermark when it fired plus the cooldown: when the events of
   * the cooldown have arrived. Later than `until` for an entity whose events
   * lag the stream (a producer clock behind the others): the episode is kept
   * until then, or every batch of its late events fired again.
   */
  untilSeen: number;
  lastTrue: number;
  clearAt: number;
  open: string[];
}

/** Episodes by `subject + "|" + severity`. */
export type EpisodeBook = Map<string, Episode>;

/** Which episode an observation belongs to. */
export interface EpisodeKey {
  rule: string;
  type: EventType;
  entity: string;
  /** Cooldown subject (defaults to the entity; metric_score uses `service/measure`). */
  subject?: string;
  severity: Severity;
}

/** Deterministic anomaly id (32 hex chars). */
export function anomalyId(parts: readonly (string | number)[]): string {
  return createHash("sha256").update(parts.join("|")).digest("hex").slice(0, 32);
}

function bookKey(subject: string, severity: Severity): string {
  return `${subject}|${severity}`;
}

/** The episode of `key`, created (never fired) when missing. */
function episodeOf(book: EpisodeBook, key: EpisodeKey): Episode {
  const k = bookKey(key.subject ?? key.entity, key.severity);
  let ep = book.get(k);
  if (!ep) {
    ep = {
      rule: key.rule,
      type: key.type,
      entity: key.entity,
      severity: key.severity,
      firedAt: -Infinity,
      until: -Infinity,
      untilSeen: -Infinity,
      lastTrue: -Infinity,
      clearAt: -Infinity,
      open: [],
    };
    book.set(k, ep);
  }
  return ep;
}

function resolve(ep: Episode, at: number, out: Finding[], reading?: Reading): void {
  out.push({
    kind: "resolved",
    rule: ep.rule,
    type: ep.type,
    entity: ep.entity,
    severity: ep.severity,
    ids: ep.open,
    at,
    ...(reading && Number.isFinite(reading.value) ? { value: reading.value } : {}),
    ...(reading?.details !== undefined ? { details: reading.details } : {}),
  });
  ep.open = [];
}

/**
 * The condition holds at event time `t` and, without new evidence, clears at
 * `clearAt`. Returns the new anomaly's id when it fires, else null (cooldown).
 */
export function conditionTrue(
  book: EpisodeBook,
  key: EpisodeKey,
  at: {
    t: number;
    clearAt: number;
    refId: string;
    cooldownMs: number;
    /** The stream watermark now (@default {at.t}). */
    watermark?: number;
  },
  out: Finding[],
): string | null {
  const ep = episodeOf(book, key);
  // Strictly after: an observation at `clearAt` itself holds the condition with no gap between
  // (the window lost its oldest event at that instant and gained this one), so it extends the
  // episode instead of resolving it and keeping the next one quiet for a cooldown.
  if (ep.open.length > 0 && at.t > ep.clearAt) resolve(ep, ep.clearAt, out);
  let id: string | null = null;
  if (at.t >= ep.until) {
    id = anomalyId([key.rule, key.subject ?? key.entity, key.severity, at.t, at.refId]);
    ep.firedAt = at.t;
    ep.until = at.t + at.cooldownMs;
    ep.untilSeen = Math.max(at.watermark ?? at.t, at.t) + at.cooldownMs;
    ep.open.push(id);
  }
  if (ep.open.length > 0) {
    ep.lastTrue = Math.max(ep.lastTrue, at.t);
    ep.clearAt = Math.max(ep.clearAt, at.clearAt);
  }
  return id;
}

/**
 * Make an anomaly raised outside the rule (the evaluate endpoint's dispatch)
 * part of the rule's episode, so it resolves with it (`clearAt`) and starts
 * the cooldown when none runs. Adopting an id twice changes nothing more.
 */
export function adoptAnomaly(
  book: EpisodeBook,
  key: EpisodeKey,
  at: { id: string; t: number; clearAt: number; cooldownMs: number },
): void {
  const ep = episodeOf(book, key);
  if (!ep.open.includes(at.id)) ep.open.push(at.id);
  if (at.t >= ep.until) {
    ep.firedAt = at.t;
    ep.until = at.t + at.cooldownMs;
  }
  ep.lastTrue = Math.max(ep.lastTrue, at.t);
  ep.clearAt = Math.max(ep.clearAt, at.clearAt);
}

/**
 * Resolve `subject`'s open episode of `severity` at its `clearAt` when that is at or before `t`.
 * For a condition held per period (status_zscore's minute: `clearAt` is the end of the next one),
 * an observation at `clearAt` itself is in a later period: the condition had cleared by then,
 * unlike a sliding window's, which {@link conditionTrue} extends at that instant.
 */
export function resolveClearedBy(
  book: EpisodeBook,
  subject: string,
  severity: Severity,
  t: number,
  out: Finding[],
): void {
  const ep = book.get(bookKey(subject, severity));
  if (ep && ep.open.length > 0 && t >= ep.clearAt) resolve(ep, ep.clearAt, out);
}

/** Whether `subject` has an open (unresolved) anomaly of `severity`. */
export function isOpen(book: EpisodeBook, subject: string, severity: Severity): boolean {
  return (book.get(bookKey(subject, severity))?.open.length ?? 0) > 0;
}

/**
 * The condition is false for `subject` at event time `t`: resolve its open
 * episodes seen true before. `reading` (computed only when something
 * resolves) is the observation that cleared it, carried by the resolution
 * (undefined: it cleared by time, not by this observation).
 * An episode whose `clearAt` is before `t` had cleared by then: it resolves
 * at `clearAt` without a reading, as a sweep between the two would have.
 */
export function conditionFalse(
  book: EpisodeBook,
  subject: string,
  t: number,
  out: Finding[],
  reading?: () => Reading | undefined,
): void {
  for (const severity of ["WARNING", "CRITICAL", "INFO"] as const) {
    const ep = book.get(bookKey(subject, severity));
    if (!ep || ep.open.length === 0 || t <= ep.lastTrue) continue;
    if (t > ep.clearAt) resolve(ep, ep.clearAt, out);
    else resolve(ep, t, out, reading?.());
  }
}

/**
 * Resolve episodes whose `clearAt` the watermark passed; forget episodes whose
 * cooldown ended more than `retainMs` (the accepted lateness) ago, in event
 * time and in stream time (`untilSeen`).
 */
export function sweepEpisodes(
  book: EpisodeBook,
  watermark: number,
  retainMs: number,
  out: Finding[],
): void {
  for (const [k, ep] of book) {
    // Past `clearAt`, not at it: an event at that very instant may still extend the episode.
    if (ep.open.length > 0 && watermark > ep.clearAt) resolve(ep, ep.clearAt, out);
    if (ep.open.length === 0 && watermark >= Math.max(ep.until, ep.untilSeen) + retainMs) {
      book.delete(k);
    }
  }
}

/** The times of an episode, saved as null while still -Infinity (never). */
const TIMES = ["firedAt", "until", "untilSeen", "lastTrue", "clearAt"] as const;

/** JSON-able snapshot (Infinity becomes null). */
export function saveEpisodes(book: EpisodeBook): unknown {
  return [...book].map(([k, ep]) => [k, {
    ...ep,
    open: ep.open.slice(),
    ...Object.fromEntries(TIMES.map((f) => [f, Number.isFinite(ep[f]) ? ep[f] : null])),
  }]);
}

/** Book from {@link saveEpisodes}' output. @throws {TypeError} when malformed */
export function loadEpisodes(raw: unknown): EpisodeBook {
  const book: EpisodeBook = new Map();
  if (!Array.isArray(raw)) throw new TypeError("Cannot load episodes: not an array");
  for (const item of raw) {
    if (!Array.isArray(item) || typeof item[0] !== "string" || typeof item[1] !== "object") {
      throw new TypeError("Cannot load episodes: malformed entry");
    }
    const e = item[1] as Record<string, unknown>;
    if (
      typeof e.rule !== "string" || typeof e.type !== "string" || typeof e.entity !== "string" ||
      typeof e.severity !== "string" || !Array.isArray(e.open)
    ) throw new TypeError("Cannot load episodes: malformed episode");
    book.set(item[0], {
      rule: e.rule,
      type: e.type as EventType,
      entity: e.entity,
      severity: e.severity as Severity,
      ...Object.fromEntries(TIMES.map((f) => [f, typeof e[f] === "number" ? e[f] : -Infinity])),
      open: e.open.map(String),
    } as Episode);
  }
  return book;
}
