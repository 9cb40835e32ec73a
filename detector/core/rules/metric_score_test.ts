import assert from "node:assert/strict";
import type { MetricEvent } from "@vigil/shared/schemas/event";
import { createStatsEngine, ENGINE_SCORE_BANDS, type ScoreEngine } from "../score_engine.ts";
import { metricScoreRule, type ScoreState } from "./metric_score.ts";
import { collectSink, type RuleInput } from "./types.ts";
import { MIN, T0 } from "./_testing.ts";

const CONFIG = { enabled: true, measures: ["cpu", "latency_ms"], bands: ENGINE_SCORE_BANDS };

function reading(service: string, t: number, cpu: number): RuleInput<MetricEvent> {
  return {
    event: { timestamp: new Date(t).toISOString(), service, cpu, latency_ms: 100 + cpu },
    t,
    ref: { id: `${t}-0`, partition: 0, offset: "0" },
    ingestTs: t,
    traceId: null,
    watermark: t,
  };
}

function feed<S>(
  rule: ReturnType<typeof metricScoreRule<S>>,
  state: ScoreState<S>,
  service: string,
  from: number,
  n: number,
) {
  for (let i = 0; i < n; i++) {
    rule.step(state, reading(service, T0 + (from + i) * MIN, 40 + (i % 7)), collectSink());
  }
}

Deno.test("metric_score save() is the state at the snapshot, however the series change after it", () => {
  const engine = createStatsEngine() as ScoreEngine<unknown>;
  const rule = metricScoreRule(CONFIG, 300_000, engine);
  const state = rule.init();
  feed(rule, state, "api", 0, 80);
  feed(rule, state, "db", 0, 30);
  const snapshot = rule.save(state);
  // The reference: the same readings, serialised at once.
  const ref = rule.init();
  feed(rule, ref, "api", 0, 80);
  feed(rule, ref, "db", 0, 30);
  const expected = JSON.stringify(rule.save(ref));

  feed(rule, state, "api", 80, 20); // updated after the snapshot: serialised before the update
  feed(rule, state, "web", 0, 5); // new since
  assert.equal(JSON.stringify(snapshot), expected);
  assert.throws(() => JSON.stringify(snapshot), /twice/, "serialised once: its text is let go");
  // A second snapshot sees the new state.
  const second = JSON.parse(JSON.stringify(rule.save(state))) as { series: [string][] };
  assert.deepEqual(second.series.map((s) => s[0]).sort(), [
    "api|cpu",
    "api|latency_ms",
    "db|cpu",
    "db|latency_ms",
    "web|cpu",
    "web|latency_ms",
  ]);
});
