/**
 * Boundaries the issue lists that the per-rule tests do not already pin:
 * window edges of every windowed rule, late-event horizons, cooldown expiry
 * to the millisecond, and batch independence (the same stream gives the same
 * anomalies however it is split into batches).
 */
import assert from "node:assert/strict";
import { DEFAULT_RULES } from "../rules_config.ts";
import { createEvaluator } from "../evaluator.ts";
import type { ParsedEntry } from "../entry.ts";
import type { EventType } from "@vigil/shared/schemas/event";
import { entry, MIN, rulesWith, run, SEC, spread, T0 } from "../../tools/testing/rules.ts";
import { collectSink } from "./types.ts";

const err = (service = "checkout") => ({ service, level: "ERROR", message: "boom" });
const userLog = (user = "u1") => ({ service: "web", level: "INFO", message: "m", user_id: user });
let k = 0;
const tx = (over: Record<string, unknown> = {}) => ({
  transaction_id: `b${++k}`,
  user_id: "u1",
  amount: 20,
  currency: "EUR",
  status: "approved",
  ...over,
});
const reading = (cpu: number, latency_ms = 100, service = "api") => ({ service, cpu, latency_ms });

Deno.test("user_spike window edges: 10 logs within 3 min fire, spanning exactly 3 min do not", () => {
  const fires = (span: number) =>
    run("logs", spread(10, T0, span, () => userLog()), { only: "user_spike" }).firings.length;
  assert.equal(fires(3 * MIN - 1), 1);
  assert.equal(fires(3 * MIN), 0);
});

Deno.test("cpu_sustained window and span edges", async (t) => {
  const fires = (cpu: number[], at: number[]) =>
    run("metrics", cpu.map((c, i) => entry(T0 + at[i]!, reading(c))), { only: "cpu_sustained" })
      .firings.length;
  await t.step("readings spanning exactly 4 min fire, 1 ms less does not", () => {
    assert.equal(fires([80, 80, 80], [0, 2 * MIN, 4 * MIN]), 1);
    assert.equal(fires([80, 80, 80], [0, 2 * MIN, 4 * MIN - 1]), 0);
  });
  await t.step(
    "a low reading exactly 5 min before is outside the window, 1 ms later inside",
    () => {
      assert.equal(fires([79.9, 90, 90, 90], [0, MIN, 3 * MIN, 5 * MIN]), 1);
      assert.equal(fires([79.9, 90, 90, 90], [1, MIN, 3 * MIN, 5 * MIN]), 0);
    },
  );
});

Deno.test("cooldown expires to the millisecond, per (rule, entity, severity)", async (t) => {
  const cooldown = DEFAULT_RULES.cooldown;
  await t.step("latency_high: again at firing + cooldown, not 1 ms before", () => {
    const r = run("metrics", [
      entry(T0, reading(10, 1500)),
      entry(T0 + cooldown - 1, reading(10, 1500)),
      entry(T0 + cooldown, reading(10, 1500)),
    ], { only: "latency_high" });
    assert.deepEqual(r.firings.map((f) => f.eventTime), [T0, T0 + cooldown]);
  });
  await t.step("another entity has its own cooldown", () => {
    const r = run("metrics", [
      entry(T0, reading(10, 1500, "a")),
      entry(T0 + SEC, reading(10, 1500, "b")),
    ], { only: "latency_high" });
    assert.deepEqual(r.firings.map((f) => f.entity), ["a", "b"]);
  });
  await t.step("a configured cooldown is used", () => {
    const rules = rulesWith({ cooldown: "1m" });
    const r = run("transactions", [
      entry(T0, tx({ amount: 20_000 })),
      entry(T0 + MIN - 1, tx({ amount: 20_000 })),
      entry(T0 + MIN, tx({ amount: 20_000 })),
    ], { rules, only: "amount_high" });
    assert.equal(r.firings.length, 2);
  });
});

Deno.test("amount_high: 10,000 does not fire, 10,001 does", () => {
  const fires = (amount: number) =>
    run("transactions", [entry(T0, tx({ amount, user_id: `a${amount}` }))], {
      only: "amount_high",
    }).firings.length;
  assert.equal(fires(10_000), 0);
  assert.equal(fires(10_001), 1);
});

Deno.test("late events: counted down to the window horizon, ignored at it", async (t) => {
  // The watermark is T0 + 10 min (another user's transaction); the 5-minute
  // horizon is T0 + 5 min.
  const base = () => [
    ...spread(4, T0 + 6 * MIN, MIN, () => tx()),
    entry(T0 + 10 * MIN, tx({ user_id: "other" })),
  ];
  await t.step("a 5th transaction 1 ms after the horizon counts", () => {
    const events = [...base(), entry(T0 + 5 * MIN + 1, tx())];
    const r = run("transactions", events, { only: "user_frequency" });
    assert.equal(r.firings.length, 1);
    assert.equal(r.firings[0]!.entity, "u1");
    // The condition first held at the window ending at the 4th in-order event.
    assert.equal(r.firings[0]!.eventTime, T0 + 7 * MIN);
  });
  await t.step("a 5th transaction exactly at the horizon is too late", () => {
    const events = [...base(), entry(T0 + 5 * MIN, tx())];
    const r = run("transactions", events, { only: "user_frequency" });
    assert.equal(r.firings.length, 0);
    const state = r.evaluator.ruleState("user_frequency") as { late: number };
    assert.equal(state.late, 1);
  });
  await t.step("a late reading completes a sustained CPU window", () => {
    const r = run("metrics", [
      entry(T0, reading(90)),
      entry(T0 + 4 * MIN, reading(90)),
      entry(T0 + 2 * MIN, reading(90)), // arrives last
    ], { only: "cpu_sustained" });
    assert.equal(r.firings.length, 1);
    assert.equal(r.firings[0]!.eventTime, T0 + 4 * MIN);
  });
});

/** Run `entries` in batches of `size` (one sweep per batch, as the processor does). */
function inBatches(type: EventType, entries: ParsedEntry[], size: number) {
  const evaluator = createEvaluator(type, { rules: DEFAULT_RULES, engine: null });
  const all: unknown[] = [];
  for (let i = 0; i < entries.length; i += size) {
    const sink = collectSink();
    for (const e of entries.slice(i, i + size)) evaluator.step(e, sink);
    evaluator.sweep(sink);
    all.push(...sink.findings);
  }
  return all;
}

Deno.test("the same stream gives the same anomalies whatever the batch size", () => {
  // 19 errors of "a" up to T0 + 72 s, another service moves the watermark to
  // T0 + 250 s, then a late error of "a" at T0 + 73 s: inside the current
  // window (T0 + 70 s, T0 + 250 s], but the 18 errors before T0 + 70 s are not.
  const events: ParsedEntry[] = [];
  for (let i = 0; i < 19; i++) events.push(entry(T0 + i * 4 * SEC, err("a")));
  events.push(entry(T0 + 250 * SEC, err("b")));
  events.push(entry(T0 + 73 * SEC, err("a")));
  // Plus a mixed stream with resolutions and cooldowns.
  events.push(...spread(60, T0 + 300 * SEC, 2 * MIN, () => err("c")));
  events.push(entry(T0 + 20 * MIN, err("d")));
  const reference = inBatches("logs", events, 1);
  for (const size of [2, 7, 20, events.length]) {
    assert.deepEqual(inBatches("logs", events, size), reference, `batch size ${size}`);
  }
  const spikes = reference.filter((f) =>
    (f as { kind: string; rule: string }).kind === "firing" &&
    (f as { rule: string }).rule === "error_spike"
  );
  assert.deepEqual(spikes.map((f) => (f as { entity: string }).entity), ["c"]);
});

Deno.test("a reading back to normal after the cooldown resolves the same whatever the batch size", () => {
  // latency_high of api clears one cooldown (5 min) after its last high reading. web moves the
  // watermark past that, then api reads normal: swept between the two, the episode resolved at
  // its clearAt; in one batch the normal reading resolved it a minute later, with its value.
  const events = [
    entry(T0, reading(10, 1500)),
    entry(T0 + 6 * MIN, reading(10, 100, "web")),
    entry(T0 + 6 * MIN + SEC, reading(10, 320)),
  ];
  const reference = inBatches("metrics", events, 1);
  assert.deepEqual(
    reference.filter((f) => (f as { kind: string }).kind === "resolved")
      .map((f) => [(f as { rule: string }).rule, (f as { at: number }).at]),
    [["latency_high", T0 + 5 * MIN]],
  );
  for (const size of [2, 3]) {
    assert.deepEqual(inBatches("metrics", events, size), reference, `batch size ${size}`);
  }
});

Deno.test("a firing carries the trace id of the entry that fired it, and only that one", () => {
  const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const traced = {
    ...entry(T0, tx({ amount: 20_000, user_id: "t1" })),
    traceparent: `00-${trace}-00f067aa0ba902b7-01`,
  };
  const plain = entry(T0 + SEC, tx({ amount: 30_000, user_id: "t2" }));
  const bad = {
    ...entry(T0 + 2 * SEC, tx({ amount: 40_000, user_id: "t3" })),
    traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01`,
  };
  const r = run("transactions", [traced, plain, bad], { only: "amount_high" });
  assert.deepEqual(r.firings.map((f) => [f.entity, f.traceId]), [
    ["t1", trace],
    ["t2", null],
    ["t3", null],
  ]);
});
