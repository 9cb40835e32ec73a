/**
 * The evaluator of one stream: runs every rule of the stream's type over its
 * entries, in stream order, keeping the stream watermark
 * (highest event time seen, capped at ingest time + `DEFAULT_FUTURE_SKEW_MS` so one
 * clock-skewed producer cannot push every window forward). Rules see an
 * event's time capped at the watermark: an event stamped beyond ingest time +
 * `DEFAULT_FUTURE_SKEW_MS` (a clock years ahead) is evaluated at the watermark, so it
 * cannot hold a series, a window or an episode in the future. Pure: no I/O,
 * no clock; its whole state serialises to one JSON string for checkpoints.
 *
 * @module
 */
import type { AnyEvent } from "@vigil/shared/schemas/event";
import { type StreamKind, typeOfKind } from "@vigil/shared/partitions";
import { type ParsedEntry, traceIdOf } from "./entry.ts";
import type { RulesConfig } from "./rules_config.ts";
import type { ScoreEngine } from "./score_engine.ts";
import { DEFAULT_STATE_LIMITS, type StateLimits, type StateStats } from "./state_limits.ts";
import { logRules } from "./rules/logs.ts";
import { metricRules } from "./rules/metrics.ts";
import { transactionRules } from "./rules/transactions.ts";
import { noDataEnabled, noDataRule } from "./rules/no_data.ts";
import type { EventRef, Rule, RuleInput, RuleSink } from "./rules/types.ts";

/** Options of {@link createEvaluator}. */
export interface EvaluatorOptions {
  rules: RulesConfig;
  /** Scorer of the metric_score rule; null disables the rule. */
  engine: ScoreEngine<unknown> | null;
  /**
   * Stream partitions (`VIGIL_PARTITIONS`): with more than one, the rules
   * keyed on another field than their stream's entity (`user_spike`,
   * `status_zscore`) run on the projection streams instead. @default {1}
   */
  partitions?: number;
  /** Bounds on per-entity state (state_limits.ts). @default {DEFAULT_STATE_LIMITS} */
  limits?: Readonly<StateLimits>;
}

/** The rules of one stream with their state. */
export interface Evaluator {
  readonly ruleNames: readonly string[];
  /** Highest (skew-capped) event time seen; -Infinity before any event. */
  watermark(): number;
  /** Run one entry through every rule; findings and scores go to `sink`. */
  step(entry: ParsedEntry, sink: RuleSink): void;
  /** Let event time pass (resolutions, pruning). */
  sweep(sink: RuleSink): void;
  /**
   * The whole state as plain data, taken now and unaffected by later steps,
   * to be serialised later (its JSON is a checkpoint's text).
   */
  snapshot(): unknown;
  /**
   * Replace the state by a saved one. A rule whose saved state cannot be
   * loaded (under changed settings, or written by another version) starts
   * fresh, as on a reload; the others keep theirs.
   * @returns the names of the rules that started fresh that way
   * @throws {TypeError} when the text is not a checkpoint of this kind
   */
  load(text: string): string[];
  /** Back to the fresh state (nothing seen). */
  reset(): void;
  /** Current state of one rule (read-only use: the evaluate endpoint). */
  ruleState(name: string): unknown;
  /** Entities held and forgotten, per rule that keeps per-entity state. */
  stateStats(): ({ rule: string } & StateStats)[];
  /**
   * Run the rules of `rules` from now on (a reloaded rules file). A rule
   * whose settings did not change keeps its state as it is; a changed one
   * gets its predecessor's state (windows, open anomalies) through save and
   * load, or a fresh state when that is refused; an added one starts fresh; a
   * removed one is dropped.
   */
  reconfigure(rules: RulesConfig): Reconfigured;
}

/** What {@link Evaluator.reconfigure} did to each rule, by rule name. */
export interface Reconfigured {
  kept: string[];
  changed: string[];
  added: string[];
  removed: string[];
  /** Changed rules whose state could not be carried over (they start fresh). */
  reset: string[];
}

/** Rules keyed on another field than their stream's entity, by the projection they run on. */
const PROJECTED_RULES: Readonly<Record<string, StreamKind>> = {
  user_spike: "logs_by_user",
  status_zscore: "transactions_by_status",
};

/**
 * The settings a rule depends on, as text: equal texts mean the rule would
 * behave the same. `metric_score` and `entity_score` share a hand-off, so
 * they change together.
 */
export function ruleSettings(rules: RulesConfig, name: string): string {
  const sections: Record<string, unknown>[] = [rules.logs, rules.metrics, rules.transactions];
  const own = name === "metric_score" || name === "entity_score"
    ? [rules.metrics.metric_score, rules.metrics.entity_score]
    : name === "no_data"
    ? [{ ...rules.no_data, stream: null }]
    : sections.map((section) => section[name]);
  return JSON.stringify([rules.cooldown, own]);
}

/** The rules that run on streams of `kind`. */
export function rulesFor(kind: StreamKind, options: EvaluatorOptions): Rule<unknown, AnyEvent>[] {
  const type = typeOfKind(kind);
  const limits = options.limits ?? DEFAULT_STATE_LIMITS;
  const all = type === "logs"
    ? logRules(options.rules, limits)
    : type === "metrics"
    ? metricRules(options.rules, options.engine, limits)
    : transactionRules(options.rules, limits);
  const rules = all as Rule<unknown, AnyEvent>[];
  if (noDataEnabled(options.rules, type)) {
    rules.push(noDataRule(options.rules, type) as Rule<unknown, AnyEvent>);
  }
  const partitioned = (options.partitions ?? 1) > 1;
  return rules.filter((r) => {
    // no_data follows the status of transactions: it runs where status_zscore does.
    const home = r.name === "no_data"
      ? (type === "transactions" ? PROJECTED_RULES.status_zscore : undefined)
      : PROJECTED_RULES[r.name];
    return home === undefined ? kind === type : partitioned ? kind === home : kind === type;
  });
}

/** How far ahead of its ingest time an event may be and still advance the watermark. */
export const DEFAULT_FUTURE_SKEW_MS = 60_000;

/** Create the evaluator of the streams of `kind`. */
export function createEvaluator(kind: StreamKind, options: EvaluatorOptions): Evaluator {
  let config = options.rules;
  let rules = rulesFor(kind, options);
  let states: unknown[] = rules.map((r) => r.init());
  let watermark = -Infinity;
  let traceparent: string | undefined;
  const input: RuleInput<AnyEvent> = {
    event: undefined as unknown as AnyEvent,
    t: 0,
    ref: { id: "", partition: 0, offset: "" },
    ingestTs: 0,
    // Read only by a rule that fires (about 1 % of events): parsed then, not per event.
    get traceId() {
      return traceIdOf(traceparent);
    },
    watermark: 0,
  };
  const snapshot = () => ({
    v: 1,
    type: kind,
    watermark: Number.isFinite(watermark) ? watermark : null,
    rules: Object.fromEntries(rules.map((r, i) => [r.name, r.save(states[i])])),
  });
  return {
    get ruleNames() {
      return rules.map((r) => r.name);
    },
    watermark: () => watermark,
    step(entry, sink) {
      const capped = Math.min(entry.t, entry.ingestTs + DEFAULT_FUTURE_SKEW_MS);
      if (capped > watermark) watermark = capped;
      const ref: EventRef = { id: entry.id, partition: entry.partition, offset: entry.offset };
      input.event = entry.event;
      // Unchanged unless the event is beyond ingest time + the skew (then watermark < entry.t).
      input.t = Math.min(entry.t, watermark);
      input.ref = ref;
      input.ingestTs = entry.ingestTs;
      traceparent = entry.traceparent;
      input.watermark = watermark;
      for (let i = 0; i < rules.length; i++) rules[i]!.step(states[i], input, sink);
    },
    sweep(sink) {
      if (watermark === -Infinity) return;
      for (let i = 0; i < rules.length; i++) rules[i]!.sweep(states[i], watermark, sink);
    },
    snapshot,
    load(text) {
      const raw = JSON.parse(text) as Record<string, unknown> | null;
      if (raw?.v !== 1 || raw.type !== kind || typeof raw.rules !== "object" || !raw.rules) {
        throw new TypeError(`Cannot load ${kind} checkpoint: unknown format`);
      }
      const saved = raw.rules as Record<string, unknown>;
      // A rule added since the checkpoint starts fresh; a removed one is dropped.
      const reset: string[] = [];
      states = rules.map((r) => {
        if (!(r.name in saved)) return r.init();
        try {
          return r.load(saved[r.name]);
        } catch {
          reset.push(r.name);
          return r.init();
        }
      });
      watermark = typeof raw.watermark === "number" ? raw.watermark : -Infinity;
      return reset;
    },
    reset() {
      states = rules.map((r) => r.init());
      watermark = -Infinity;
    },
    ruleState(name) {
      const i = rules.findIndex((r) => r.name === name);
      return i < 0 ? undefined : states[i];
    },
    reconfigure(next) {
      const done: Reconfigured = { kept: [], changed: [], added: [], removed: [], reset: [] };
      const fresh = rulesFor(kind, { ...options, rules: next });
      const nextRules: Rule<unknown, AnyEvent>[] = [];
      const nextStates: unknown[] = [];
      for (const rule of fresh) {
        const i = rules.findIndex((r) => r.name === rule.name);
        const kept = i >= 0 && ruleSettings(config, rule.name) === ruleSettings(next, rule.name);
        nextRules.push(kept ? rules[i]! : rule);
        if (i < 0) {
          done.added.push(rule.name);
          nextStates.push(rule.init());
        } else if (kept) {
          done.kept.push(rule.name);
          nextStates.push(states[i]);
        } else {
          done.changed.push(rule.name);
          try {
            nextStates.push(rule.load(JSON.parse(JSON.stringify(rules[i]!.save(states[i])))));
          } catch {
            done.reset.push(rule.name);
            nextStates.push(rule.init());
          }
        }
      }
      for (const r of rules) if (!fresh.some((f) => f.name === r.name)) done.removed.push(r.name);
      rules = nextRules;
      states = nextStates;
      config = next;
      return done;
    },
    stateStats() {
      const out: ({ rule: string } & StateStats)[] = [];
      rules.forEach((r, i) => {
        if (r.stats) out.push({ rule: r.name, ...r.stats(states[i]) });
      });
      return out;
    },
  };
}
