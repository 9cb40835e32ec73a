import assert from "node:assert/strict";
import { createEvaluator } from "../evaluator.ts";
import { DEFAULT_STATE_LIMITS } from "../state_limits.ts";
import { DEFAULT_RULES } from "../rules_config.ts";
import { entry, MIN, run, SEC, T0 } from "../../tools/testing/rules.ts";

const tx = (user: string) => ({
  transaction_id: `tx-${user}-${Math.random()}`,
  user_id: user,
  amount: 10,
  currency: "USD",
  status: "approved",
});

Deno.test("count rules keep at most maxWindowEntities, the oldest forgotten first", () => {
  const evaluator = createEvaluator("transactions", {
    rules: DEFAULT_RULES,
    engine: null,
    limits: { ...DEFAULT_STATE_LIMITS, maxWindowEntities: 3 },
  });
  const users = ["u1", "u2", "u3", "u4", "u5"];
  run("transactions", users.map((u, i) => entry(T0 + i * SEC, tx(u))), { evaluator });
  const stats = evaluator.stateStats().find((s) => s.rule === "user_frequency");
  assert.deepEqual(stats, { rule: "user_frequency", entries: 3, evicted: 2, late: 0 });
  // u1 and u2 (oldest) were forgotten: four more of u1 make only 4 in its window, no firing;
  // five more of u5 (kept) fire.
  const more = [
    ...[1, 2, 3, 4].map((i) => entry(T0 + (10 + i) * SEC, tx("u1"))),
    ...[1, 2, 3, 4].map((i) => entry(T0 + (20 + i) * SEC, tx("u5"))),
  ];
  const r = run("transactions", more, { evaluator, only: "user_frequency" });
  assert.deepEqual(r.firings.map((f) => f.entity), ["u5"]);
});

Deno.test("count rules forget an idle entity about one window after its last event", () => {
  const evaluator = createEvaluator("transactions", { rules: DEFAULT_RULES, engine: null });
  run("transactions", [entry(T0, tx("idle")), entry(T0 + MIN, tx("busy"))], { evaluator });
  const entries = () => evaluator.stateStats().find((s) => s.rule === "user_frequency")!.entries;
  assert.equal(entries(), 2);
  // user_frequency's window is 5 min: at T0 + 5 min the idle user's event has left it, and
  // its window is dropped within a second (the expiry index's bucket, window.ts).
  run("transactions", [entry(T0 + 5 * MIN + SEC, tx("busy"))], { evaluator });
  assert.equal(entries(), 1);
  assert.equal(evaluator.stateStats().find((s) => s.rule === "user_frequency")!.evicted, 0);
});
