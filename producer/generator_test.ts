import assert from "node:assert/strict";
import { type EventType, parseEvent } from "@vigil/shared/schemas/event";
import { createGenerator, DEFAULT_USERS, minUsersForRate } from "./generator.ts";
import { createPrng } from "./prng.ts";
import {
  EXPECT_HEADER,
  type ProducedMessage,
  SCENARIO_HEADER,
  SCENARIOS,
  STATISTICAL_SCENARIOS,
} from "./scenario_types.ts";
import {
  BURST_MESSAGES,
  DEBUG_MESSAGES,
  ERROR_MESSAGES,
  FAILED_MESSAGES,
  INFO_MESSAGES,
  WARNING_MESSAGES,
} from "./content.ts";

const T0 = Date.UTC(2025, 0, 6, 12, 0, 0);
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

/** `minutes` of normal traffic at `rate` events/s, in steps of 100 ms, from `start`. */
function simulate(
  gen: ReturnType<typeof createGenerator>,
  opts: { start: number; minutes: number; rate: number },
): ProducedMessage[] {
  const out: ProducedMessage[] = [];
  const perStep = opts.rate / 10;
  for (let t = 0; t < opts.minutes * 60_000; t += 100) {
    for (const m of gen.normal(opts.start + t, perStep)) out.push(m);
  }
  return out;
}

interface Parsed {
  topic: EventType;
  ts: number;
  e: Record<string, unknown>;
}

function parseAll(messages: ProducedMessage[]): Parsed[] {
  return messages.map((m) => {
    const e = JSON.parse(m.value) as Record<string, unknown>;
    return { topic: m.topic, ts: Date.parse(String(e.timestamp)), e };
  }).sort((a, b) => a.ts - b.ts);
}

/** Any `count` of the sorted times within `windowMs` (inclusive)? */
function burst(times: number[], count: number, windowMs: number): boolean {
  const t = [...times].sort((a, b) => a - b);
  for (let i = count - 1; i < t.length; i++) if (t[i]! - t[i - count + 1]! <= windowMs) return true;
  return false;
}

function groupTimes(
  events: Parsed[],
  key: (p: Parsed) => string | undefined,
): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const p of events) {
    const k = key(p);
    if (k === undefined) continue;
    let list = m.get(k);
    if (!list) m.set(k, list = []);
    list.push(p.ts);
  }
  return m;
}

/**
 * A small reference implementation of the detector's default rules (minus
 * the statistical z-score of approved/pending, which needs 30 min of
 * history). Returns `rule|entity|severity` strings.
 */
function referenceDetect(events: Parsed[]): Set<string> {
  const found = new Set<string>();
  const add = (rule: string, entity: string, severity: string) =>
    found.add(`${rule}|${entity}|${severity}`);
  const logs = events.filter((p) => p.topic === "logs");
  const metrics = events.filter((p) => p.topic === "metrics");
  const txs = events.filter((p) => p.topic === "transactions");

  const errors = groupTimes(logs, (p) => p.e.level === "ERROR" ? String(p.e.service) : undefined);
  for (const [s, t] of errors) if (burst(t, 20, 180_000)) add("error_spike", s, "CRITICAL");
  for (const p of logs) {
    if (p.e.level === "ERROR" && /failed/i.test(String(p.e.message))) {
      add("failed_message", String(p.e.service), "WARNING");
    }
  }
  const userLogs = groupTimes(logs, (p) => p.e.user_id as string | undefined);
  for (const [u, t] of userLogs) if (burst(t, 10, 180_000)) add("user_spike", u, "WARNING");

  const byService = new Map<string, Parsed[]>();
  for (const p of metrics) {
    const s = String(p.e.service);
    byService.set(s, [...(byService.get(s) ?? []), p]);
    const cpu = Number(p.e.cpu), lat = Number(p.e.latency_ms);
    if (lat > 1000) add("latency_high", s, "CRITICAL");
    if (cpu >= 80 && lat > 1000) add("cpu_and_latency", s, "CRITICAL");
  }
  for (const [s, readings] of byService) {
    for (const r of readings) {
      const win = readings.filter((x) => x.ts <= r.ts && x.ts >= r.ts - 300_000);
      const span = win.at(-1)!.ts - win[0]!.ts;
      if (win.length >= 3 && span >= 240_000 && win.every((x) => Number(x.e.cpu) >= 80)) {
        add("cpu_sustained", s, "WARNING");
      }
    }
  }

  for (const p of txs) {
    if (Number(p.e.amount) > 10_000) add("amount_high", String(p.e.user_id), "CRITICAL");
    if (["denied", "failed", "reversed", "backend_reversed"].includes(String(p.e.status))) {
      add("status_zscore", String(p.e.status), "CRITICAL");
    }
  }
  const userTx = groupTimes(txs, (p) => String(p.e.user_id));
  for (const [u, t] of userTx) if (burst(t, 5, 300_000)) add("user_frequency", u, "WARNING");
  return found;
}

Deno.test("createPrng() is deterministic for a seed and differs across seeds", () => {
  const a = createPrng(42), b = createPrng(42), c = createPrng(43);
  const xs = Array.from({ length: 50 }, () => a.next());
  assert.deepEqual(Array.from({ length: 50 }, () => b.next()), xs);
  assert.notDeepEqual(Array.from({ length: 50 }, () => c.next()), xs);
  const r = createPrng(7);
  for (let i = 0; i < 10_000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
  }
});

Deno.test("createGenerator() is deterministic for a seed and clock", () => {
  const run = (seed: number) => {
    const g = createGenerator({ seed });
    return [...g.normal(T0, 500), ...g.scenario("error_burst", T0 + 1000).messages];
  };
  assert.deepEqual(run(5), run(5));
  assert.notDeepEqual(run(5), run(6));
});

Deno.test("createGenerator().normal() returns exactly n valid messages with traceparent", () => {
  const g = createGenerator({ seed: 3 });
  for (const n of [0, 1, 7, 1000]) {
    const batch = g.normal(T0 + n, n);
    assert.equal(batch.length, n);
    for (const m of batch) {
      const parsed = parseEvent(m.topic, JSON.parse(m.value));
      assert.ok(parsed.ok, `${m.topic}: ${parsed.ok ? "" : parsed.reason}`);
      assert.match(m.headers.traceparent!, TRACEPARENT);
      assert.equal(m.headers[SCENARIO_HEADER], undefined);
      const e = JSON.parse(m.value);
      assert.equal(m.key, m.topic === "transactions" ? e.user_id : e.service);
    }
  }
});

Deno.test("createGenerator().normal() emits one metric reading per service per interval", () => {
  const services = ["a", "b", "c", "d"];
  const g = createGenerator({ seed: 1, services, metricIntervalMs: 10_000 });
  const msgs = simulate(g, { start: T0, minutes: 2, rate: 50 });
  const metrics = msgs.filter((m) => m.topic === "metrics");
  for (const s of services) {
    const n = metrics.filter((m) => m.key === s).length;
    assert.ok(n === 12 || n === 11, `service ${s}: ${n} readings in 2 min`);
  }
});

Deno.test("normal log templates never contain 'fail'; failed templates always contain 'failed'", () => {
  const r = createPrng(9);
  for (let i = 0; i < 200; i++) {
    for (
      const t of [
        ...INFO_MESSAGES,
        ...DEBUG_MESSAGES,
        ...WARNING_MESSAGES,
        ...ERROR_MESSAGES,
        ...BURST_MESSAGES,
      ]
    ) assert.doesNotMatch(t(r), /fail/i);
    for (const t of FAILED_MESSAGES) assert.match(t(r), /failed/i);
  }
});

/**
 * Most events of one type one user can have in any window of `windowMs`,
 * with round-robin dealing from a pool of `users` at `rate` events/s total
 * (the bound of generator.ts's module documentation).
 */
function maxUserEventsInWindow(rate: number, windowMs: number, users: number): number {
  return Math.floor((rate * windowMs) / 1000 / users) + 1;
}

Deno.test("maxUserEventsInWindow() bounds stay under the rules at the default rate and pool", () => {
  assert.equal(maxUserEventsInWindow(200, 180_000, DEFAULT_USERS), 2);
  assert.equal(maxUserEventsInWindow(200, 300_000, DEFAULT_USERS), 4);
  assert.ok(minUsersForRate(200) <= DEFAULT_USERS);
  for (const rate of [1, 50, 200, 1000, 5000]) {
    const users = minUsersForRate(rate);
    assert.ok(maxUserEventsInWindow(rate, 180_000, users) < 10, `logs at ${rate}/s`);
    assert.ok(maxUserEventsInWindow(rate, 300_000, users) < 5, `tx at ${rate}/s`);
    assert.ok(maxUserEventsInWindow(rate, 300_000, users - 1) >= 5 || users === 1);
  }
});

Deno.test("createGenerator() deals users round-robin: a user recurs exactly `users` draws later", () => {
  const g = createGenerator({ seed: 2, users: 97, services: ["s"] });
  const txUsers = simulate(g, { start: T0, minutes: 1, rate: 100 })
    .filter((m) => m.topic === "transactions").map((m) => m.key);
  assert.ok(txUsers.length > 97 * 3);
  for (let i = 97; i < txUsers.length; i++) assert.equal(txUsers[i], txUsers[i - 97]);
  assert.equal(new Set(txUsers.slice(0, 97)).size, 97);
});

Deno.test("createGenerator().normal() trips no rule: 15 minutes at 200 events/s", () => {
  const g = createGenerator({ seed: 11 });
  const msgs = simulate(g, { start: T0, minutes: 15, rate: 200 });
  assert.equal(msgs.length, 15 * 60 * 200);
  const events = parseAll(msgs);
  assert.deepEqual([...referenceDetect(events)], []);

  // Margins, not just "no alert": the worst case of each rule.
  const errors = groupTimes(
    events.filter((p) => p.topic === "logs" && p.e.level === "ERROR"),
    (p) => String(p.e.service),
  );
  assert.ok(errors.size > 0, "some ERROR logs exist");
  for (const [s, t] of errors) assert.ok(!burst(t, 8, 180_000), `${s}: 8 ERRORs in 3 min`);
  const userLogs = groupTimes(
    events.filter((p) => p.topic === "logs"),
    (p) => p.e.user_id as string | undefined,
  );
  for (const [u, t] of userLogs) assert.ok(!burst(t, 3, 180_000), `${u}: 3 logs in 3 min`);
  const userTx = groupTimes(
    events.filter((p) => p.topic === "transactions"),
    (p) => String(p.e.user_id),
  );
  for (const [u, t] of userTx) assert.ok(!burst(t, 4, 300_000), `${u}: 4 tx in 5 min`);

  const statuses = new Set<string>();
  for (const p of events) {
    if (p.topic === "metrics") {
      const cpu = Number(p.e.cpu), lat = Number(p.e.latency_ms);
      assert.ok(cpu >= 5 && cpu <= 70, `cpu ${cpu}`);
      assert.ok(lat >= 20 && lat <= 400, `latency ${lat}`);
    } else if (p.topic === "transactions") {
      statuses.add(String(p.e.status));
      const amount = Number(p.e.amount);
      assert.ok(amount >= 1 && amount <= 2000, `amount ${amount}`);
    } else {
      assert.ok(["DEBUG", "INFO", "WARNING", "ERROR"].includes(String(p.e.level)));
    }
  }
  assert.deepEqual([...statuses].sort(), ["approved", "pending"]);

  // Per-minute status counts depend only on the rate (fixed mix, every 20th pending).
  const perMinute = new Map<number, number>();
  for (const p of events) {
    if (p.topic === "transactions" && p.e.status === "approved") {
      const m = Math.floor(p.ts / 60_000);
      perMinute.set(m, (perMinute.get(m) ?? 0) + 1);
    }
  }
  const counts = [...perMinute.values()];
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 2, `approved/min ${counts}`);

  // Every message is a valid event (a sample of 1 in 7, for speed).
  for (let i = 0; i < msgs.length; i += 7) {
    const m = msgs[i]!;
    assert.ok(parseEvent(m.topic, JSON.parse(m.value)).ok);
  }
});

Deno.test("createGenerator().scenario() trips exactly the expected rules amid normal traffic", async (t) => {
  // Normal traffic is produced once (at 100 events/s: the scenarios use fresh entities, so
  // the rate does not matter to them) and each scenario is checked on top of it.
  const g = createGenerator({ seed: 21 });
  const injectAt = T0 + 6 * 60_000;
  const normal = parseAll([
    ...simulate(g, { start: T0, minutes: 6, rate: 100 }),
    ...simulate(g, { start: injectAt + 100, minutes: 1, rate: 100 }),
  ]);
  assert.deepEqual([...referenceDetect(normal)], []);
  for (const name of SCENARIOS) {
    await t.step(name, () => {
      const inj = g.scenario(name, injectAt);
      const found = referenceDetect(
        [...normal, ...parseAll(inj.messages)].sort((a, b) => a.ts - b.ts),
      );
      const statistical = (STATISTICAL_SCENARIOS as readonly string[]).includes(name);
      // The statistical scenarios trip no threshold or window rule; the engine's
      // anomalies they expect are checked against the real detector rules in
      // detector/rules/statistical_scenarios_test.ts.
      const expected = new Set(
        statistical ? [] : inj.expected.map((e) => `${e.rule}|${e.entity}|${e.severity}`),
      );
      assert.deepEqual([...found].sort(), [...expected].sort());
      if (statistical) {
        assert.deepEqual(inj.expected.map((e) => e.rule).sort(), ["entity_score", "metric_score"]);
      }
      assert.ok(inj.expected.length >= 1);
      assert.equal(inj.name, name);
      for (const e of inj.expected) assert.equal(e.scenario, name);

      for (const m of inj.messages) {
        assert.equal(m.headers[SCENARIO_HEADER], name);
        assert.deepEqual(JSON.parse(m.headers[EXPECT_HEADER]!), inj.expected);
        assert.match(m.headers.traceparent!, TRACEPARENT);
        assert.equal(m.headers.traceparent!.slice(3, 35), inj.traceId);
        const e = JSON.parse(m.value);
        assert.ok(parseEvent(m.topic, e).ok, m.value);
        // History up to 5 min (rules) or 17 days (statistical: backfilled history).
        const span = statistical ? 17 * 86_400_000 : 301_000;
        assert.ok(
          Date.parse(e.timestamp) <= injectAt && Date.parse(e.timestamp) > injectAt - span,
        );
      }
    });
  }
});

Deno.test("createGenerator().scenario() uses a fresh entity per injection", () => {
  const g = createGenerator({ seed: 4 });
  for (const name of SCENARIOS) {
    const a = g.scenario(name, T0).expected.map((e) => e.entity);
    const b = g.scenario(name, T0 + 1000).expected.map((e) => e.entity);
    assert.notDeepEqual(a, b, name);
  }
});

Deno.test("createGenerator().nextScenario() rotates through the enabled scenarios", () => {
  const g = createGenerator({ scenarios: ["latency_spike", "large_amount"] });
  assert.deepEqual([g.nextScenario(), g.nextScenario(), g.nextScenario()], [
    "latency_spike",
    "large_amount",
    "latency_spike",
  ]);
  assert.equal(createGenerator({ scenarios: [] }).nextScenario(), undefined);
});

Deno.test("createGenerator(): failed_tx_burst cycles its statuses amid other scenarios", () => {
  // Four scenarios in rotation: counting every injection would give failed_tx_burst
  // the same status each time.
  const g = createGenerator({
    seed: 5,
    scenarios: ["error_burst", "latency_spike", "large_amount", "failed_tx_burst"],
  });
  const statuses: string[] = [];
  for (let i = 0; i < 16; i++) {
    const name = g.nextScenario()!;
    const inj = g.scenario(name, T0 + i * 1000);
    if (name === "failed_tx_burst") statuses.push(inj.expected[0]!.entity);
  }
  assert.deepEqual(statuses, ["denied", "failed", "reversed", "backend_reversed"]);
});
