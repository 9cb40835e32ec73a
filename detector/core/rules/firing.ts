/**
 * What every rule does once its condition holds: open or extend the episode
 * (`episodes.ts`) and, unless it is in its cooldown, report a firing; and
 * the state parts shared by rules whose only state is their episodes.
 *
 * @module
 */
import type { Severity } from "@vigil/shared/schemas/alert";
import {
  conditionTrue,
  type EpisodeBook,
  type EpisodeKey,
  loadEpisodes,
  saveEpisodes,
  sweepEpisodes,
} from "./episodes.ts";
import type { EventRef, Firing, Rule, RuleInput, RuleSink } from "./types.ts";

/** What a firing says beyond its episode: built only when it fires (texts cost per event). */
export interface FiringText {
  title: string;
  message: string;
  score: number | null;
  details: Record<string, unknown>;
  /** @default {[input.ref]} */
  evidence?: EventRef[];
}

/** When and on which event the condition holds, and where findings go. */
export interface FiringAt {
  /** Event time at which the condition holds. */
  t: number;
  /** When it clears without new evidence. */
  clearAt: number;
  cooldownMs: number;
  input: Pick<RuleInput<unknown>, "ref" | "watermark"> & Pick<Firing, "traceId" | "ingestTs">;
  sink: RuleSink;
}

/**
 * The condition of `key` holds: extend its episode, and unless in cooldown
 * push the firing `describe` words. Returns whether it fired.
 */
export function fire(
  book: EpisodeBook,
  key: EpisodeKey,
  at: FiringAt,
  describe: () => FiringText,
): boolean {
  const { t, clearAt, cooldownMs, input, sink } = at;
  const id = conditionTrue(
    book,
    key,
    { t, clearAt, refId: input.ref.id, cooldownMs, watermark: input.watermark },
    sink.findings,
  );
  if (id === null) return false;
  const d = describe();
  sink.findings.push({
    kind: "firing",
    id,
    rule: key.rule,
    type: key.type,
    entity: key.entity,
    severity: key.severity,
    eventTime: t,
    title: d.title,
    message: d.message,
    score: d.score,
    details: d.details,
    evidence: d.evidence ?? [input.ref],
    traceId: input.traceId,
    ingestTs: input.ingestTs,
  });
  return true;
}

/** The severity band of a statistical score: CRITICAL, WARNING, or null below both. */
export function bandSeverity(
  score: number,
  bands: { warning: number; critical: number },
): Severity | null {
  return score >= bands.critical ? "CRITICAL" : score >= bands.warning ? "WARNING" : null;
}

/** State of a rule that keeps nothing but its episodes. */
export interface EpisodeState {
  episodes: EpisodeBook;
}

/**
 * `init`, `sweep`, `save` and `load` of a rule whose state is its episodes
 * (forgotten `retainMs` after their cooldown).
 */
export function episodeStateParts(
  name: string,
  retainMs: number,
): Pick<Rule<EpisodeState, unknown>, "init" | "sweep" | "save" | "load"> {
  return {
    init: () => ({ episodes: new Map() }),
    sweep(state, watermark, sink) {
      sweepEpisodes(state.episodes, watermark, retainMs, sink.findings);
    },
    save: (state) => ({ episodes: saveEpisodes(state.episodes) }),
    load(raw) {
      const r = raw as { episodes?: unknown } | null;
      if (!r || typeof r !== "object") throw new TypeError(`Cannot load ${name}: no state`);
      return { episodes: loadEpisodes(r.episodes) };
    },
  };
}

/**
 * Read a checkpointed `[key, value][]` list back into a map: each value must
 * pass `isValue`, and `restore` turns it into the live value. Throws a
 * TypeError naming `rule` and `what` for anything else.
 */
export function loadKeyed<V, T>(
  items: unknown,
  names: { rule: string; what: string },
  isValue: (v: unknown) => v is V,
  restore: (v: V) => T,
): Map<string, T> {
  if (!Array.isArray(items)) throw new TypeError(`Cannot load ${names.rule}: no state`);
  const out = new Map<string, T>();
  for (const item of items) {
    if (!Array.isArray(item) || typeof item[0] !== "string" || !isValue(item[1])) {
      throw new TypeError(`Cannot load ${names.rule}: malformed ${names.what}`);
    }
    out.set(item[0], restore(item[1]));
  }
  return out;
}
