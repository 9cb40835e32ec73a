import assert from "node:assert/strict";
import type { MetricEvent } from "@vigil/shared/schemas/event";
import { createStatsEngine, ENGINE_SCORE_BANDS, type ScoreEngine } from "../score_engine.ts";
import { metricScoreRule, type ScoreState } from "./metric_score.ts";
import { collectSink, type RuleInput } from "./types.ts";
import { MIN, T0 } from "../../tools/testing/rules.ts";

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

const HOUR = 60 * MIN;

Deno.test("metric_score forgets a series idle for seriesIdleMs of event time", () => {
  const engine = createStatsEngine() as ScoreEngine<unknown>;
  const limits = { seriesIdleMs: 2 * HOUR, maxSeries: 100 };
  const rule = metricScoreRule(CONFIG, 300_000, engine, undefined, limits);
  const state = rule.init();
  feed(rule, state, "gone", 0, 10); // last reading at T0 + 9 min
  feed(rule, state, "live", 0, 10);
  rule.sweep(state, T0 + 9 * MIN + 2 * HOUR - 1, collectSink());
  assert.equal(state.series.size, 4, "idle for less than the TTL: kept");
  feed(rule, state, "live", 129, 1);
  rule.sweep(state, T0 + 129 * MIN, collectSink()); // gone: 2 h since its last reading
  assert.deepEqual([...state.series.keys()].sort(), ["live|cpu", "live|latency_ms"]);
  assert.deepEqual(rule.stats!(state), { entries: 2, evicted: 2, late: 0 });
  // Seen again, it starts over: a new series.
  feed(rule, state, "gone", 130, 1);
  assert.equal((state.series.get("gone|cpu") as { n: number }).n, 1);
});

Deno.test("metric_score keeps at most maxSeries, the least recently updated forgotten first", () => {
  const engine = createStatsEngine() as ScoreEngine<unknown>;
  const rule = metricScoreRule(CONFIG, 300_000, engine, undefined, {
    seriesIdleMs: 24 * HOUR,
    maxSeries: 4,
  });
  const state = rule.init();
  feed(rule, state, "a", 0, 3);
  feed(rule, state, "b", 0, 3);
  feed(rule, state, "a", 3, 1); // a updated after b: b is the least recent
  feed(rule, state, "c", 0, 3);
  rule.sweep(state, T0 + 3 * MIN, collectSink());
  assert.deepEqual([...state.series.keys()].sort(), [
    "a|cpu",
    "a|latency_ms",
    "c|cpu",
    "c|latency_ms",
  ]);
  assert.equal(rule.stats!(state).evicted, 2);
  // The order survives a checkpoint: b's successor is the next to go.
  const restored = rule.load(JSON.parse(JSON.stringify(rule.save(state))));
  feed(rule, restored, "d", 4, 1);
  rule.sweep(restored, T0 + 4 * MIN, collectSink());
  assert.deepEqual([...restored.series.keys()].sort(), [
    "c|cpu",
    "c|latency_ms",
    "d|cpu",
    "d|latency_ms",
  ]);
});

Deno.test("metric_score loads a checkpoint without last-seen times as seen at the next sweep", () => {
  const engine = createStatsEngine() as ScoreEngine<unknown>;
  const limits = { seriesIdleMs: HOUR, maxSeries: 100 };
  const rule = metricScoreRule(CONFIG, 300_000, engine, undefined, limits);
  const state = rule.init();
  feed(rule, state, "api", 0, 5);
  const saved = JSON.parse(JSON.stringify(rule.save(state))) as Record<string, unknown>;
  delete saved.seen; // written before `seen` (and `touched`) existed
  delete saved.touched;
  const restored = rule.load(saved);
  rule.sweep(restored, T0 + 10 * HOUR, collectSink());
  assert.equal(restored.series.size, 2, "not forgotten at once");
  rule.sweep(restored, T0 + 11 * HOUR + 1, collectSink());
  assert.equal(restored.series.size, 0, "idle for an hour since then");
});

Deno.test("metric_score's message is the engine's sentence once, not the range twice", () => {
  const engine = createStatsEngine() as ScoreEngine<unknown>;
  const rule = metricScoreRule(CONFIG, 300_000, engine);
  const state = rule.init();
  feed(rule, state, "api", 0, 400);
  const sink = collectSink();
  const spike = reading("api", T0 + 400 * MIN, 400);
  rule.step(state, spike, sink);
  const finding = sink.findings.find((f) => f.kind === "firing" && f.details.measure === "cpu");
  assert.ok(finding?.kind === "firing", "the spike fires");
  const summary = finding.details.summary as string;
  assert.match(summary, /^Observed 400, above the expected range [\d.]+ to [\d.]+ /);
  assert.equal(finding.message, `cpu: ${summary}`);
});

Deno.test("metric_score skips a reading older than its series' last one, and counts it", () => {
  const engine = createStatsEngine() as ScoreEngine<unknown>;
  const rule = metricScoreRule(CONFIG, 300_000, engine);
  const state = rule.init();
  feed(rule, state, "api", 0, 30); // readings up to T0 + 29 min
  const sink = collectSink();
  // A reading 16 days old arrives after them (a backfill sent out of order): not scored.
  rule.step(state, reading("api", T0 - 16 * 24 * HOUR, 45), sink);
  assert.equal(sink.scores.length, 0);
  assert.equal(state.late, 2, "one per measure");
  assert.equal((state.series.get("api|cpu") as { n: number }).n, 30, "not learned");
  // Same time as the last reading: not late (two readings of one moment).
  rule.step(state, reading("api", T0 + 29 * MIN, 45), sink);
  assert.equal(sink.scores.length, 2);
  // A series of its own is not held back by another's time.
  rule.step(state, reading("db", T0 - HOUR, 45), sink);
  assert.equal(sink.scores.length, 4);
  assert.equal(state.late, 2);
});

Deno.test("metric_score keeps learning a series replayed days behind the stream's watermark", () => {
  // A 3-day-old file replayed beside live traffic: the live service holds the watermark at now,
  // the replayed one follows its own time. Swept after every entry (a batch of one), the replayed
  // series was forgotten whenever it was the least recently updated, so it never left its warm-up.
  const engine = createStatsEngine() as ScoreEngine<unknown>;
  const rule = metricScoreRule(CONFIG, 300_000, engine);
  const state = rule.init();
  const back = 3 * 24 * HOUR;
  for (let i = 0; i < 100; i++) {
    const now = T0 + i * MIN;
    for (const [service, t] of [["old", now - back], ["live", now]] as const) {
      const r = reading(service, t, 40 + (i % 7));
      rule.step(state, { ...r, watermark: now }, collectSink());
      rule.sweep(state, now, collectSink());
    }
  }
  assert.equal(rule.stats!(state).evicted, 0);
  assert.equal((state.series.get("old|cpu") as { n: number }).n, 100);
  // Through a checkpoint, and forgotten once it stops: a day of stream time without a reading.
  const restored = rule.load(JSON.parse(JSON.stringify(rule.save(state))));
  rule.sweep(restored, T0 + 99 * MIN + 24 * HOUR - 1, collectSink());
  assert.equal(restored.series.size, 4);
  rule.sweep(restored, T0 + 99 * MIN + 24 * HOUR, collectSink());
  assert.deepEqual([...restored.series.keys()], []);
});
