/**
 * Event times a real producer sends that disagree with the rest of its
 * stream: a producer whose clock lags the others (or that replays a backlog
 * beside live traffic). The rules must alert as they would for the same
 * events in order: once per cooldown, not once per batch.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ParsedEntry } from "../entry.ts";
import { createEvaluator } from "../evaluator.ts";
import { DEFAULT_RULES } from "../rules_config.ts";
import { entry, MIN, run, SEC, T0 } from "../../tools/testing/rules.ts";
import { collectSink } from "./types.ts";

/** `minutes` of readings every 10 s: "live" on time, "lag" stamped `lagMs` behind, always slow. */
function lagging(lagMs: number, minutes: number): ParsedEntry[] {
  const out: ParsedEntry[] = [];
  for (let i = 0; i < minutes * 6; i++) {
    const now = T0 + i * 10 * SEC;
    out.push(entry(now, { service: "live", cpu: 10, latency_ms: 100 }));
    out.push(entry(now - lagMs, { service: "lag", cpu: 10, latency_ms: 5000 }, now));
  }
  return out;
}

const lagOnly = (es: ParsedEntry[]) =>
  es.filter((e) => (e.event as { service: string }).service === "lag");

Deno.test("a service whose clock lags the stream by an hour alerts once per cooldown, not per batch", () => {
  const es = lagging(60 * MIN, 10);
  // Alone on its stream (in order): at its first reading and one cooldown (5 min) later.
  const alone = run("metrics", lagOnly(es), { only: "latency_high" });
  assert.deepEqual(alone.firings.map((f) => f.eventTime), [T0 - 60 * MIN, T0 - 55 * MIN]);
  // Beside a service on time (the stream's watermark an hour ahead of it), swept after every
  // entry as a batch of one: the same two alerts. Its episode was forgotten at each sweep, and
  // each of its 60 readings raised an alert of its own.
  const beside = run("metrics", es, { only: "latency_high" });
  assert.deepEqual(beside.firings.map((f) => f.eventTime), [T0 - 60 * MIN, T0 - 55 * MIN]);
  // As in one batch: the outcome does not depend on the batching.
  const ev = createEvaluator("metrics", { rules: DEFAULT_RULES, engine: null });
  const sink = collectSink();
  for (const e of es) ev.step(e, sink);
  ev.sweep(sink);
  const once = sink.findings.filter((f) => f.kind === "firing" && f.rule === "latency_high");
  assert.deepEqual(once.map((f) => f.kind === "firing" && f.eventTime), [
    T0 - 60 * MIN,
    T0 - 55 * MIN,
  ]);
});

Deno.test("a producer stamping every event 1970 (timestamp 0) alerts once per cooldown of the stream", () => {
  const es: ParsedEntry[] = [];
  for (let i = 0; i < 60; i++) {
    const now = T0 + i * 10 * SEC;
    es.push(entry(now, { service: "live", cpu: 10, latency_ms: 100 }));
    es.push(entry(0, { service: "zero", cpu: 10, latency_ms: 5000 }, now));
  }
  const r = run("metrics", es, { only: "latency_high" });
  // Its episode (cooldown in 1970) is kept one cooldown plus the retention of stream time: 10 min.
  assert.equal(r.firings.length, 1);
  assert.equal(r.firings[0]!.eventTime, 0);
});

Deno.test("a lagging episode survives a checkpoint", () => {
  const es = lagging(60 * MIN, 10);
  const first = run("metrics", es.slice(0, 20), { only: "latency_high" });
  const saved = JSON.stringify(first.evaluator.snapshot());
  const rest = run("metrics", es.slice(20), {
    only: "latency_high",
    evaluator: (() => {
      const e = first.evaluator;
      e.reset();
      e.load(saved);
      return e;
    })(),
  });
  assert.deepEqual(
    [...first.firings, ...rest.firings].map((f) => f.eventTime),
    [T0 - 60 * MIN, T0 - 55 * MIN],
  );
});
