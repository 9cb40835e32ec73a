/**
 * `no_data` for a whole stream: when no entry has been appended to any
 * partition of an event type's stream for `after` (wall clock: the bridge or
 * the producer is down, so there is no event time to go by), one alert is
 * raised for the type, entity `*`, instead of one per entity (the per-entity
 * watch stands still too: its watermark does not move). It resolves when an
 * entry is appended again. Pure: the clock and the stream's newest append
 * time are passed in.
 *
 * A stream that never had an entry is not judged. Silence is counted from
 * the detector's start at the earliest, so a restart after a long stop gives
 * the bridge `after` to catch up before anything alerts. The id is derived
 * from the type and the last append time, so instances, restarts and retries
 * name the same anomaly.
 *
 * The append time is Redis's clock, `now` the detector's: an entry id that
 * changed since the previous check was appended after that check, whatever
 * the two clocks say, so silence is counted from then at the earliest (and
 * never from a time after `now`). A detector clock minutes ahead of Redis's
 * otherwise saw every check's newest entry as minutes old: a live stream
 * alerted and resolved every other check.
 *
 * @module
 */
import type { EventType } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "./rules_config.ts";
import { anomalyId } from "./rules/episodes.ts";
import { formatSilence } from "./rules/no_data.ts";
import type { Finding } from "./rules/types.ts";

/** The entity of a stream-level alert. */
export const WHOLE_STREAM = "*";

/** The open stream-level alert of each type. */
export interface StreamSilence {
  open: Map<EventType, { ids: string[]; lastAppend: number }>;
  /** When the detector started (ms). */
  startedAt: number;
  /** Per type, the newest append seen at the last check, when silence counts from, and when. */
  seen: Map<EventType, { lastAppend: number; since: number; checkedAt: number }>;
}

/** Fresh state. */
export function createStreamSilence(startedAt: number): StreamSilence {
  return { open: new Map(), startedAt, seen: new Map() };
}

/**
 * When the silence of `type` counts from (detector clock), after the newest append `lastAppend`.
 * Never after `now`, and a new entry seen `after` or more since the check before (by the
 * detector's clock) counts from now: that clock was stepped (NTP, a VM resumed) or the checks
 * stalled, and the entry came at some time between. Before, a clock stepped an hour ahead took
 * a live stream for an hour silent at the next check (a CRITICAL no_data, resolved 10 s later);
 * one set back an hour told a stream that stopped an hour late.
 */
function silenceSince(
  state: StreamSilence,
  type: EventType,
  lastAppend: number,
  now: number,
  after: number,
) {
  const prev = state.seen.get(type);
  const since = prev === undefined
    ? Math.min(now, lastAppend)
    : lastAppend === prev.lastAppend
    ? Math.min(prev.since, now)
    : now - prev.checkedAt >= after
    ? now
    : Math.min(now, Math.max(lastAppend, prev.checkedAt));
  state.seen.set(type, { lastAppend, since, checkedAt: now });
  return since;
}

/**
 * Check `type` at `now`, its newest entry appended at `lastAppend` (null:
 * the stream never had one). Returns the firing or resolution, if any.
 */
export function checkStream(
  state: StreamSilence,
  type: EventType,
  lastAppend: number | null,
  now: number,
  /** Settings (`no_data.stream` of the rules file). */
  config: RulesConfig["no_data"]["stream"],
): Finding[] {
  state.startedAt = Math.min(state.startedAt, now); // the clock set back: counts from now
  const seenSince = lastAppend === null
    ? null
    : silenceSince(state, type, lastAppend, now, config.after);
  const open = state.open.get(type);
  if (open) {
    const back = lastAppend !== null && lastAppend > open.lastAppend;
    if (!back && config.enabled) return [];
    state.open.delete(type);
    return [{
      kind: "resolved",
      rule: "no_data",
      type,
      entity: WHOLE_STREAM,
      severity: config.severity,
      ids: open.ids,
      at: back ? lastAppend : now,
    }];
  }
  if (!config.enabled || lastAppend === null || seenSince === null) return [];
  const since = Math.max(seenSince, state.startedAt);
  if (now - since < config.after) return [];
  const id = anomalyId(["no_data", WHOLE_STREAM, type, lastAppend]);
  state.open.set(type, { ids: [id], lastAppend });
  const quiet = formatSilence(config.after);
  return [{
    kind: "firing",
    id,
    rule: "no_data",
    type,
    entity: WHOLE_STREAM,
    severity: config.severity,
    eventTime: since + config.after,
    title: `No ${type} at all for ${quiet}: the stream is quiet`,
    message: `Nothing was appended to the ${type} stream since ${
      new Date(lastAppend).toISOString()
    }: is the bridge or the producer down? One alert for the stream, none per entity.`,
    score: null,
    details: {
      scope: "stream",
      last_append: new Date(lastAppend).toISOString(),
      after_ms: config.after,
    },
    evidence: [],
    traceId: null,
    ingestTs: null,
  }];
}

/**
 * Take over an alert stored earlier (an open row in PostgreSQL, raised before
 * a restart or by another instance) so it resolves here with the others.
 */
export function adoptOpenStream(
  state: StreamSilence,
  type: EventType,
  row: { id: string; lastAppend: number },
): void {
  const known = state.open.get(type);
  if (!known) return void state.open.set(type, { ids: [row.id], lastAppend: row.lastAppend });
  if (!known.ids.includes(row.id)) known.ids.push(row.id);
  known.lastAppend = Math.max(known.lastAppend, row.lastAppend);
}
