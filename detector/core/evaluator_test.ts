import assert from "node:assert/strict";
import { createEvaluator, ruleSettings } from "./evaluator.ts";
import { DEFAULT_RULES } from "./rules_config.ts";
import { entry, fakeEngine, MIN, rulesWith, run, SEC, T0 } from "../tools/testing/rules.ts";

const err = (i: number) => entry(T0 + i * SEC, { service: "pay", level: "ERROR", message: "x" });

Deno.test("Evaluator.reconfigure() keeps the window of a rule whose settings did not change", () => {
  const evaluator = createEvaluator("logs", { rules: DEFAULT_RULES, engine: null });
  run("logs", Array.from({ length: 19 }, (_, i) => err(i)), { evaluator });
  const done = evaluator.reconfigure(
    rulesWith({ logs: { failed_message: { contains: "boom" } } }),
  );
  assert.deepEqual(done.kept.sort(), ["error_spike", "user_spike"]);
  assert.deepEqual(done.changed, ["failed_message"]);
  const r = run("logs", [err(19)], { evaluator, only: "error_spike" });
  assert.equal(r.firings.length, 1, "19 before the reload + 1 after = 20: fires");
  assert.equal(r.firings[0]!.details.count, 20);
});

Deno.test("Evaluator.reconfigure() carries a changed rule's window into its new settings", () => {
  const evaluator = createEvaluator("logs", { rules: DEFAULT_RULES, engine: null });
  run("logs", Array.from({ length: 14 }, (_, i) => err(i)), { evaluator });
  const done = evaluator.reconfigure(rulesWith({ logs: { error_spike: { threshold: 15 } } }));
  assert.deepEqual(done.changed, ["error_spike"]);
  assert.deepEqual(done.reset, []);
  const r = run("logs", [err(14)], { evaluator, only: "error_spike" });
  assert.equal(r.firings.length, 1, "14 + 1 reaches the new threshold 15");
});

Deno.test("Evaluator.reconfigure() drops a disabled rule and starts a re-enabled one fresh", () => {
  const evaluator = createEvaluator("logs", { rules: DEFAULT_RULES, engine: null });
  run("logs", Array.from({ length: 19 }, (_, i) => err(i)), { evaluator });
  const off = evaluator.reconfigure(rulesWith({ logs: { error_spike: { enabled: false } } }));
  assert.deepEqual(off.removed, ["error_spike"]);
  assert.ok(!evaluator.ruleNames.includes("error_spike"));
  const on = evaluator.reconfigure(DEFAULT_RULES);
  assert.deepEqual(on.added, ["error_spike"]);
  assert.equal(run("logs", [err(19)], { evaluator, only: "error_spike" }).firings.length, 0);
  // The checkpoint names the rules in force.
  const saved = JSON.parse(JSON.stringify(evaluator.snapshot())) as {
    rules: Record<string, unknown>;
  };
  assert.ok("error_spike" in saved.rules);
});

Deno.test("ruleSettings() changes with the rule's section or the cooldown, not with others", () => {
  const base = ruleSettings(DEFAULT_RULES, "error_spike");
  assert.equal(
    ruleSettings(rulesWith({ logs: { user_spike: { threshold: 3 } } }), "error_spike"),
    base,
  );
  assert.notEqual(
    ruleSettings(rulesWith({ logs: { error_spike: { threshold: 3 } } }), "error_spike"),
    base,
  );
  assert.notEqual(ruleSettings(rulesWith({ cooldown: "1m" }), "error_spike"), base);
  // metric_score and entity_score share a hand-off: they change together.
  const changed = rulesWith({ metrics: { entity_score: { min_measures: 3 } } });
  assert.notEqual(
    ruleSettings(changed, "metric_score"),
    ruleSettings(DEFAULT_RULES, "metric_score"),
  );
});

Deno.test("an event stamped far in the future is evaluated at the watermark: it cannot hold a series or an episode there", () => {
  // Before: a reading stamped 2150 became its series' last reading, so every real one after it
  // was skipped as late (no metric_score any more), and its latency_high episode stayed open
  // until 2150, silencing the next real spike; the anomalies were stamped 2150.
  const evaluator = createEvaluator("metrics", { rules: DEFAULT_RULES, engine: fakeEngine });
  const reading = (t: number, latency: number, ingestTs = t) =>
    entry(t, { service: "api", latency_ms: latency }, ingestTs);
  const quiet = Array.from({ length: 30 }, (_, i) => reading(T0 + i * 10 * SEC, 10));
  run("metrics", quiet, { evaluator });
  const now = T0 + 300 * SEC;
  const future = run("metrics", [reading(Date.UTC(2150, 0, 1), 5000, now)], { evaluator });
  assert.deepEqual(
    future.firings.map((f) => [f.rule, f.eventTime]).sort(),
    [["latency_high", now + 60 * SEC], ["metric_score", now + 60 * SEC]],
    "stamped at ingest time + the 60 s skew, not in 2150",
  );
  // Half an hour later (past every cooldown), a real spike: both rules fire again.
  const later = now + 30 * MIN;
  const real = run("metrics", [reading(later, 5000)], { evaluator });
  assert.deepEqual(real.firings.map((f) => [f.rule, f.eventTime]).sort(), [
    ["latency_high", later],
    ["metric_score", later],
  ]);
  assert.equal(real.scores.length, 1, "scored, not skipped as late");
  assert.equal(real.scores[0]!.t, later);
});

Deno.test("Evaluator.load() starts fresh only the rule whose saved state cannot be loaded, as a reload does", () => {
  // Before: one rule's state refused (a restart with a changed rules file, or a checkpoint of an
  // older detector) threw for the whole checkpoint, so every rule was rebuilt from only
  // DETECTOR_REBUILD_WINDOW of stream: "19 errors so far" was lost with it.
  const before = createEvaluator("logs", { rules: DEFAULT_RULES, engine: null });
  run("logs", Array.from({ length: 19 }, (_, i) => err(i)), { evaluator: before });
  const saved = JSON.parse(JSON.stringify(before.snapshot())) as { rules: Record<string, unknown> };
  saved.rules.user_spike = "a state this detector cannot load";
  const after = createEvaluator("logs", {
    rules: rulesWith({ logs: { user_spike: { threshold: 3 } } }),
    engine: null,
  });
  assert.deepEqual(after.load(JSON.stringify(saved)), ["user_spike"]);
  assert.equal(after.watermark(), before.watermark());
  const r = run("logs", [err(19)], { evaluator: after, only: "error_spike" });
  assert.equal(r.firings.length, 1, "19 before the restart + 1 after = 20: fires");
  // A checkpoint that is not one at all is still refused whole.
  assert.throws(() => after.load(JSON.stringify({ v: 2 })), TypeError);
});
