/**
 * `no_data` per entity: an entity (the service of logs and metrics, the
 * status of transactions) that was reporting and stops for `after` of event
 * time raises an alert, which resolves when it reports again.
 *
 * Event time, like every rule: an entity is silent when the stream watermark
 * is `after` past its last event, so the outcome does not depend on batching
 * or on when the check runs, and replays give the same ids. Consequences:
 *
 * - While the whole stream is quiet the watermark stands still and no entity
 *   alerts: that case is one stream-level alert (stream_silence.ts), not one
 *   per entity.
 * - When the stream comes back after a gap longer than the shortest `after`
 *   (the watermark jumps between two consecutive events), every entity's
 *   silence is counted from the resumption, not from before the gap: the
 *   entities get `after` to report again instead of alerting all at once.
 * - An entity silent for `forget_after` is forgotten and its alert resolves.
 *
 * Entries of `no_data.entities` set one entity's own `after`, leave it out
 * (`enabled: false`), or watch it while its type's watch is off; an entry's
 * entity is watched from the first event of its stream even if it never
 * reported.
 *
 * @module
 */
import type { AnyEvent, EventType } from "@vigil/shared/schemas/event";
import type { RulesConfig } from "../rules_config.ts";
import {
  conditionFalse,
  type EpisodeBook,
  isOpen,
  loadEpisodes,
  saveEpisodes,
  sweepEpisodes,
} from "./episodes.ts";
import type { Rule, RuleSink } from "./types.ts";
import { fire, loadKeyed } from "./firing.ts";

/** A silence time for titles: "45 s", "10 min", "1.5 h". */
export function formatSilence(ms: number): string {
  const round = (x: number) => Math.round(x * 10) / 10;
  return ms < 60_000
    ? `${round(ms / 1000)} s`
    : ms < 3_600_000
    ? `${round(ms / 60_000)} min`
    : `${round(ms / 3_600_000)} h`;
}

/** Open no-data episodes never clear by time: only a new event (or forgetting) resolves them. */
const NEVER = Number.MAX_SAFE_INTEGER;

/** State of the rule. */
export interface NoDataState {
  /** Last event time per entity. */
  seen: Map<string, number>;
  /** Watermark before the last event (gap detection); -Infinity before any. */
  last: number;
  /** Silence is counted from here at the earliest (the end of the last stream gap). */
  resumeAt: number;
  /**
   * The `entities` entries already watched from an event of the stream: one
   * added later (a reload, a restart with a new file) is watched from the
   * next event, so an expected entity that never reports alerts too.
   */
  expected: Set<string>;
  episodes: EpisodeBook;
}

/** The entity a no-data watch follows in an event of `type`. */
function entityOf(type: EventType, event: AnyEvent): string {
  return type === "transactions"
    ? (event as { status: string }).status
    : (event as { service: string }).service;
}

/** Whether the rule runs for `type` under `config` (its type's watch or an entry). */
export function noDataEnabled(config: RulesConfig, type: EventType): boolean {
  const c = config.no_data;
  return c[type].enabled || c.entities.some((e) => e.type === type && e.enabled);
}

/** Build the rule of `type`. */
export function noDataRule(config: RulesConfig, type: EventType): Rule<NoDataState, AnyEvent> {
  const c = config.no_data;
  const typeWatch = c[type];
  const entries = new Map(c.entities.filter((e) => e.type === type).map((e) => [e.entity, e]));
  /** This entity's silence time, or null when it is not watched. */
  const afterOf = (entity: string): number | null => {
    const e = entries.get(entity);
    if (e) return e.enabled ? e.after ?? typeWatch.after : null;
    return typeWatch.enabled ? typeWatch.after : null;
  };
  const afters = [
    ...(typeWatch.enabled ? [typeWatch.after] : []),
    ...[...entries.values()].filter((e) => e.enabled).map((e) => e.after ?? typeWatch.after),
  ];
  const gap = Math.min(...afters);
  const expectedEntities = [...entries.values()].filter((e) => e.enabled).map((e) => e.entity);
  const severity = typeWatch.severity;
  /**
   * Raise the alert of `entity` (last event at `t`) when the stream went on
   * for `after` without it, as of `watermark`. Called by the sweep for every
   * entity, and within a batch where the sweep would come too late: for an
   * entity that reports again (its silence ends with this event) and for
   * every entity before a stream gap moves `resumeAt` on. So the outcome does
   * not depend on where the batches end.
   */
  const fireIfSilent = (
    state: NoDataState,
    entity: string,
    t: number,
    after: number,
    watermark: number,
    sink: RuleSink,
  ): void => {
    const since = Math.max(t, state.resumeAt);
    if (watermark - since < after || isOpen(state.episodes, entity, severity)) return;
    const at = since + after;
    // No event triggered it: the id comes from the last event's time, and it carries no evidence.
    fire(state.episodes, { rule: "no_data", type, entity, severity }, {
      t: at,
      clearAt: NEVER,
      cooldownMs: 0,
      input: {
        ref: { id: `last:${t}`, partition: 0, offset: "" },
        watermark: at,
        traceId: null,
        ingestTs: null,
      },
      sink,
    }, () => {
      const quiet = formatSilence(after);
      return {
        title: `No ${type} from ${entity} for ${quiet}`,
        message: `${entity} last reported ${type} at ${
          new Date(t).toISOString()
        }; nothing since for ${quiet} of event time while the stream went on`,
        score: null,
        details: { last_seen: new Date(t).toISOString(), after_ms: after, watched: entity },
        evidence: [],
      };
    });
  };
  /**
   * Forget `entity` (last event at `t`) when it was silent for `forget_after` as of `watermark`,
   * or is no longer watched: its silence is raised first if it lasted `after` before then, and
   * its alert resolves at `t + forget_after`, in event time. So the outcome does not depend on
   * which sweep (or which event of a batch) sees it first. Returns whether it was forgotten.
   */
  const forgetIfGone = (
    state: NoDataState,
    entity: string,
    t: number,
    watermark: number,
    sink: RuleSink,
  ): boolean => {
    const after = afterOf(entity);
    if (after !== null && watermark - t < c.forget_after) return false;
    state.seen.delete(entity);
    // No longer watched after a reload: resolved now.
    if (after === null) conditionFalse(state.episodes, entity, watermark, sink.findings);
    else {
      const gone = t + c.forget_after;
      if (Math.max(t, state.resumeAt) + after < gone) {
        fireIfSilent(state, entity, t, after, gone, sink);
      }
      conditionFalse(state.episodes, entity, gone, sink.findings);
    }
    return true;
  };
  return {
    name: "no_data",
    type,
    init: () => ({
      seen: new Map(),
      last: -Infinity,
      resumeAt: -Infinity,
      expected: new Set(),
      episodes: new Map(),
    }),
    step(state, input, sink) {
      if (state.expected.size < expectedEntities.length) {
        // Entries not watched yet (first event of the stream, or added since): expected from here.
        for (const entity of expectedEntities) {
          if (state.expected.has(entity)) continue;
          state.expected.add(entity);
          if (!state.seen.has(entity)) state.seen.set(entity, input.t);
        }
      }
      const previous = state.last;
      if (previous !== -Infinity && input.watermark - previous > gap) {
        // A stream gap: silences up to its start count, those across it do not.
        for (const [entity, t] of state.seen) {
          if (forgetIfGone(state, entity, t, previous, sink)) continue;
          const after = afterOf(entity);
          if (after !== null) fireIfSilent(state, entity, t, after, previous, sink);
        }
        state.resumeAt = input.watermark;
      }
      state.last = input.watermark;
      const entity = entityOf(type, input.event);
      if (afterOf(entity) === null) return;
      let before = state.seen.get(entity);
      // Forgotten before this event (as a sweep just before it saw): back as a new entity.
      if (before !== undefined && forgetIfGone(state, entity, before, previous, sink)) {
        before = undefined;
      }
      // Its silence ends here: raised first if it lasted `after` (then resolved just below). As of
      // the watermark, not the event's time: a late event's silence ran on to the watermark, as a
      // sweep just before it saw.
      if (before !== undefined && input.t > before) {
        fireIfSilent(state, entity, before, afterOf(entity)!, input.watermark, sink);
      }
      if (before === undefined || input.t > before) state.seen.set(entity, input.t);
      // Reporting again: its open alert resolves.
      if (state.episodes.size > 0) conditionFalse(state.episodes, entity, input.t, sink.findings);
    },
    sweep(state, watermark, sink) {
      for (const [entity, t] of state.seen) {
        if (!forgetIfGone(state, entity, t, watermark, sink)) {
          fireIfSilent(state, entity, t, afterOf(entity)!, watermark, sink);
        }
      }
      // Drop resolved episodes (they never clear by time, so this only forgets closed ones).
      sweepEpisodes(state.episodes, watermark, 0, sink.findings);
    },
    save: (s) => ({
      seen: [...s.seen],
      last: Number.isFinite(s.last) ? s.last : null,
      resumeAt: Number.isFinite(s.resumeAt) ? s.resumeAt : null,
      expected: [...s.expected],
      episodes: saveEpisodes(s.episodes),
    }),
    load(raw) {
      const r = (raw ?? {}) as Record<string, unknown>;
      const seen = loadKeyed(
        r.seen,
        { rule: "no_data", what: "entity" },
        (v): v is number => typeof v === "number",
        (v) => v,
      );
      return {
        seen,
        last: typeof r.last === "number" ? r.last : -Infinity,
        resumeAt: typeof r.resumeAt === "number" ? r.resumeAt : -Infinity,
        // A checkpoint from before the field: the entities it watches were seeded.
        expected: new Set(
          Array.isArray(r.expected) ? r.expected.filter((e) => typeof e === "string") : seen.keys(),
        ),
        episodes: loadEpisodes(r.episodes),
      };
    },
  };
}
