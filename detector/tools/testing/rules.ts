/**
 * Test helpers for the rules: build parsed entries and run them through an
 * evaluator with explicit event times (no clock, no servers).
 *
 * @module
 */
import type { AnyEvent, EventType } from "@vigil/shared/schemas/event";
import { createEvaluator, type Evaluator } from "../../core/evaluator.ts";
import type { ParsedEntry } from "../../core/entry.ts";
import { DEFAULT_RULES, parseRulesConfig, type RulesConfig } from "../../core/rules_config.ts";
import type { ScoreEngine } from "../../core/score_engine.ts";
import {
  collectSink,
  type Finding,
  type Firing,
  type Resolution,
  type ScorePoint,
} from "../../core/rules/types.ts";

/** 2025-01-01T00:00:00Z, a round base time for tests. */
export const T0 = Date.UTC(2025, 0, 1, 0, 0, 0);
export const SEC = 1000;
export const MIN = 60_000;

let seq = 0;

/** A parsed entry of `event` at event time `t` (ingested at `t` unless given). */
export function entry(t: number, event: Record<string, unknown>, ingestTs = t): ParsedEntry {
  seq++;
  return {
    id: `${ingestTs}-${seq}`,
    event: { ...event, timestamp: new Date(t).toISOString() } as unknown as AnyEvent,
    t,
    ingestTs,
    partition: 0,
    offset: String(seq),
    topic: "x",
    traceparent: undefined,
  };
}

/** Rules config: defaults deep-merged with `patch` (validated). */
export function rulesWith(patch: Record<string, unknown> = {}): RulesConfig {
  const base = JSON.parse(JSON.stringify(DEFAULT_RULES)) as Record<string, unknown>;
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(b)) {
      if (v && typeof v === "object" && !Array.isArray(v) && a[k] && typeof a[k] === "object") {
        merge(a[k] as Record<string, unknown>, v as Record<string, unknown>);
      } else a[k] = v;
    }
  };
  merge(base, patch);
  return parseRulesConfig(base);
}

/** Output of {@link run}. */
export interface RunResult {
  findings: Finding[];
  firings: Firing[];
  resolutions: Resolution[];
  scores: ScorePoint[];
  evaluator: Evaluator;
}

/** Run entries through a fresh (or given) evaluator, sweeping after each entry. */
export function run(
  type: EventType,
  entries: ParsedEntry[],
  options: {
    rules?: RulesConfig;
    evaluator?: Evaluator;
    engine?: ScoreEngine<unknown> | null;
    only?: string;
  } = {},
): RunResult {
  const evaluator = options.evaluator ??
    createEvaluator(type, {
      rules: options.rules ?? DEFAULT_RULES,
      engine: options.engine ?? null,
    });
  const sink = collectSink();
  for (const e of entries) {
    evaluator.step(e, sink);
    evaluator.sweep(sink);
  }
  const findings = options.only
    ? sink.findings.filter((f) => f.rule === options.only)
    : sink.findings;
  return {
    findings,
    firings: findings.filter((f): f is Firing => f.kind === "firing"),
    resolutions: findings.filter((f): f is Resolution => f.kind === "resolved"),
    scores: sink.scores,
    evaluator,
  };
}

/** `count` events spread evenly over [start, start + spanMs]. */
export function spread(
  count: number,
  start: number,
  spanMs: number,
  make: (i: number) => Record<string, unknown>,
): ParsedEntry[] {
  const out: ParsedEntry[] = [];
  for (let i = 0; i < count; i++) {
    const t = count === 1 ? start : start + Math.round((spanMs * i) / (count - 1));
    out.push(entry(t, make(i)));
  }
  return out;
}

/** A fake engine: the score is the value / 128 (exact in binary), so tests choose scores. */
export const fakeEngine: ScoreEngine<unknown> = {
  create: () => ({ n: 0 }),
  update: (state, _t, value) => ({
    state,
    score: value / 128,
    explanation: { expectedLow: 0, expectedHigh: 50, observed: value, summary: "fake" },
  }),
  serialize: (s) => JSON.stringify(s),
  restore: (text) => JSON.parse(text),
};
