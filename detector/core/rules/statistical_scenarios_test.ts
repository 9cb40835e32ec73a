/**
 * The producer's statistical scenarios (and its normal traffic) through the
 * real metric rules and statistical engine, without servers: each scenario
 * raises exactly the anomalies it declares, and normal traffic raises none,
 * including while every series is young (the engine's 60-point warm-up).
 */
import assert from "node:assert/strict";
import { createGenerator } from "@vigil/producer/generator";
import { type ProducedMessage, STATISTICAL_SCENARIOS } from "@vigil/producer/scenario_types";
import { createEvaluator, type Evaluator } from "../evaluator.ts";
import { parseEntry } from "../entry.ts";
import { DEFAULT_RULES } from "../rules_config.ts";
import { createStatsEngine, type ScoreEngine } from "../score_engine.ts";
import { collectSink, type Firing, type RuleSink } from "./types.ts";

let seq = 0;

/** Feeds produced messages to `evaluator` as the bridge would append them. */
function feed(evaluator: Evaluator, sink: RuleSink, messages: readonly ProducedMessage[]): void {
  for (const m of messages) {
    if (m.topic !== "metrics") continue; // the evaluators fed are of metrics
    const t = Date.parse(JSON.parse(m.value).timestamp);
    seq++;
    const r = parseEntry(`${t}-${seq}`, [
      "data",
      m.value,
      "topic",
      m.topic,
      "partition",
      "0",
      "offset",
      String(seq),
      "key",
      m.key,
      "ingest_ts",
      String(t),
    ]);
    if (!r.ok) throw new Error(r.reason);
    evaluator.step(r.entry, sink);
    evaluator.sweep(sink);
  }
}

function metricsEvaluator(): Evaluator {
  return createEvaluator("metrics", {
    rules: DEFAULT_RULES,
    engine: createStatsEngine() as ScoreEngine<unknown>,
  });
}

const firings = (sink: RuleSink) => sink.findings.filter((f): f is Firing => f.kind === "firing");

/** Metric messages of `minutes` of normal traffic from `start` (1 s steps). */
function normalMetrics(gen: ReturnType<typeof createGenerator>, start: number, minutes: number) {
  const out: ProducedMessage[] = [];
  for (let t = start; t < start + minutes * 60_000; t += 1000) {
    out.push(...gen.normal(t, 8).filter((m) => m.topic === "metrics"));
  }
  return out;
}

Deno.test("each statistical scenario raises exactly the anomalies it declares", async (t) => {
  const gen = createGenerator({ seed: 31 });
  const now = Date.UTC(2025, 2, 3, 4, 5, 6);
  for (const name of STATISTICAL_SCENARIOS) {
    await t.step(name, () => {
      for (const at of [now, now + 3_600_000 + 17_000]) {
        const inj = gen.scenario(name, at);
        const evaluator = metricsEvaluator();
        const sink = collectSink();
        feed(evaluator, sink, inj.messages);
        const found = firings(sink).map((f) => `${f.rule}|${f.entity}|${f.severity}`).sort();
        const expected = inj.expected.map((e) => `${e.rule}|${e.entity}|${e.severity}`).sort();
        assert.deepEqual(found, expected, `${name} at ${new Date(at).toISOString()}`);
        // The anomaly is in the last readings, not in the history.
        const last = Math.max(
          ...inj.messages.map((m) => Date.parse(JSON.parse(m.value).timestamp)),
        );
        for (const f of firings(sink)) assert.ok(last - f.eventTime <= 2 * 3_600_000, f.message);
        const entity = firings(sink).find((f) => f.rule === "entity_score")!;
        const measure = firings(sink).find((f) => f.rule === "metric_score")!.details.measure;
        assert.deepEqual(entity.details.drivers, [measure], "the changed measure drove it");
      }
    });
  }
});

Deno.test("one hour of normal traffic raises no engine alarm, from the 61st reading on", () => {
  // 8 services, one reading each every 10 s: 360 readings per series, so the
  // engine is scoring (warm-up 60) for 50 minutes of each.
  for (const seed of [1, 2, 3]) {
    const gen = createGenerator({ seed });
    const start = Date.UTC(2025, 0, 1) + seed * 7_777_777;
    const evaluator = metricsEvaluator();
    const sink = collectSink();
    const messages = normalMetrics(gen, start, 60);
    assert.equal(messages.length, 8 * 360);
    feed(evaluator, sink, messages);
    assert.deepEqual(firings(sink).map((f) => f.message), [], `seed ${seed}`);
    // Useful scores: past the warm-up the readings get graded scores (0 only for a
    // value exactly at its local level), not the warm-up's flat 0.
    const late = sink.scores.filter((s) => s.t >= start + 11 * 60_000);
    const graded = late.filter((s) => s.score > 0).length;
    assert.ok(graded >= 0.9 * late.length, `seed ${seed}: ${graded} of ${late.length} graded`);
  }
});

Deno.test("a young series alarms on an outlier soon after its 60-point warm-up", () => {
  const gen = createGenerator({ seed: 5 });
  const start = Date.UTC(2025, 0, 1);
  const messages = normalMetrics(gen, start, 15); // 90 readings per service
  // The 70th reading of one service: latency ×6 for one reading.
  let count = 0;
  let spikeAt = 0;
  const spiked = messages.map((m) => {
    if (m.key !== "payments" || ++count !== 70) return m;
    const e = JSON.parse(m.value);
    e.latency_ms = Math.round(e.latency_ms * 6);
    spikeAt = Date.parse(e.timestamp);
    return { ...m, value: JSON.stringify(e) };
  });
  const evaluator = metricsEvaluator();
  const sink = collectSink();
  feed(evaluator, sink, spiked);
  const fired = firings(sink).filter((f) => f.rule === "metric_score");
  assert.equal(fired.length, 1);
  assert.equal(fired[0]!.entity, "payments");
  assert.equal(fired[0]!.details.measure, "latency_ms");
  assert.ok(fired[0]!.eventTime - spikeAt <= 10_000, "reported with the next reading");
  assert.match(String(fired[0]!.details.summary), /isolated outlier/);
});
