import assert from "node:assert/strict";
import { entry, MIN, rulesWith, run, SEC, spread, T0 } from "../../tools/testing/rules.ts";

const err = (service = "checkout", message = "boom") => ({ service, level: "ERROR", message });

Deno.test("error_spike fires at 20 ERROR logs within 3 minutes, not at 19", async (t) => {
  const cases = [
    { n: 19, span: 60 * SEC, fires: 0 },
    { n: 20, span: 60 * SEC, fires: 1 },
    { n: 20, span: 3 * MIN - 1, fires: 1 }, // window edge: just inside (τ − 3 min, τ]
    { n: 20, span: 3 * MIN, fires: 0 }, // first event exactly 3 min before the last: outside
    { n: 60, span: 2 * MIN, fires: 1 }, // sustained: once per cooldown, not per event
  ];
  for (const c of cases) {
    await t.step(`${c.n} errors over ${c.span} ms -> ${c.fires}`, () => {
      const r = run("logs", spread(c.n, T0, c.span, () => err()), { only: "error_spike" });
      assert.equal(r.firings.length, c.fires);
      if (c.fires) {
        const f = r.firings[0]!;
        assert.equal(f.severity, "CRITICAL");
        assert.equal(f.entity, "checkout");
        assert.equal(f.details.count, 20);
        assert.equal(f.evidence.length, 20);
      }
    });
  }
});

Deno.test("error_spike counts per service and only ERROR logs", () => {
  const events = [
    ...spread(19, T0, MIN, () => err("a")),
    ...spread(19, T0, MIN, () => err("b")),
    ...spread(30, T0, MIN, () => ({ service: "a", level: "WARNING", message: "w" })),
  ].sort((x, y) => x.t - y.t);
  assert.equal(run("logs", events, { only: "error_spike" }).firings.length, 0);
});

Deno.test("error_spike counts a late event inside the window", () => {
  const events = spread(19, T0 + 10 * SEC, MIN, () => err());
  events.push(entry(T0 + 5 * SEC, err())); // arrives last, happened first: still within 3 min
  const r = run("logs", events, { only: "error_spike" });
  assert.equal(r.firings.length, 1);
});

Deno.test("error_spike ignores an event older than the window", () => {
  const events = spread(19, T0 + 4 * MIN, MIN, () => err());
  events.push(entry(T0, err())); // 5 min before the watermark: too late
  const r = run("logs", events, { only: "error_spike" });
  assert.equal(r.firings.length, 0);
});

Deno.test("error_spike alerts again after the cooldown and resolves when the spike ends", () => {
  // One error per 5 s for 8 minutes: 36 per 3 min, sustained.
  const events = spread(97, T0, 8 * MIN, () => err());
  const r = run("logs", events, { only: "error_spike" });
  assert.equal(r.firings.length, 2, "first alert, then one more after the 5 min cooldown");
  assert.ok(r.firings[1]!.eventTime - r.firings[0]!.eventTime >= 5 * MIN);
  // A later event moves the watermark past the window: the condition cleared.
  const after = run("logs", [
    entry(T0 + 20 * MIN, { service: "other", level: "INFO", message: "x" }),
  ], {
    evaluator: r.evaluator,
    only: "error_spike",
  });
  assert.equal(after.resolutions.length, 1);
  assert.deepEqual(after.resolutions[0]!.ids, r.firings.map((f) => f.id));
  // 20th-newest error + 3 min: when the count dropped to 19.
  assert.equal(after.resolutions[0]!.at, events[events.length - 20]!.t + 3 * MIN);
});

Deno.test("error_spike uses the configured threshold and window", () => {
  const rules = rulesWith({ logs: { error_spike: { threshold: 3, window: "10s" } } });
  assert.equal(
    run("logs", spread(3, T0, 9 * SEC, () => err()), { rules, only: "error_spike" }).firings.length,
    1,
  );
  assert.equal(
    run("logs", spread(3, T0, 10 * SEC, () => err()), { rules, only: "error_spike" }).firings
      .length,
    0,
  );
});

Deno.test("failed_message fires for ERROR logs containing 'failed', any case", async (t) => {
  const cases = [
    { level: "ERROR", message: "Payment FAILED for order 1", fires: 1 },
    { level: "ERROR", message: "failed", fires: 1 },
    { level: "ERROR", message: "timeout", fires: 0 },
    { level: "WARNING", message: "payment failed", fires: 0 },
    { level: "INFO", message: "failed", fires: 0 },
  ];
  for (const c of cases) {
    await t.step(`${c.level} "${c.message}" -> ${c.fires}`, () => {
      const r = run("logs", [entry(T0, { service: "pay", level: c.level, message: c.message })], {
        only: "failed_message",
      });
      assert.equal(r.firings.length, c.fires);
      if (c.fires) assert.equal(r.firings[0]!.severity, "WARNING");
    });
  }
});

Deno.test("failed_message cuts a long message without splitting a character (a lone surrogate: jsonb refuses the batch)", () => {
  for (const at of [499, 1999]) {
    const message = "x".repeat(at) + "😀 failed " + "y".repeat(3000);
    const r = run("logs", [entry(T0, { service: "pay", level: "ERROR", message })], {
      only: "failed_message",
    });
    const f = r.firings[0]!;
    assert.ok(f.message.isWellFormed(), `message, emoji at ${at}`);
    assert.ok(String(f.details.log_message).isWellFormed(), `log_message, emoji at ${at}`);
    assert.ok(JSON.stringify(f).isWellFormed() && !JSON.stringify(f).includes("\\ud83d"));
  }
});

Deno.test("failed_message looks at the levels named in rules.json", async (t) => {
  const rules = rulesWith({ logs: { failed_message: { levels: ["WARNING", "ERROR"] } } });
  const cases = [
    { level: "ERROR", fires: 1 },
    { level: "WARNING", fires: 1 },
    { level: "INFO", fires: 0 },
    { level: "DEBUG", fires: 0 },
  ];
  for (const c of cases) {
    await t.step(`${c.level} "payment failed" -> ${c.fires}`, () => {
      const e = entry(T0, { service: "pay", level: c.level, message: "payment failed" });
      const r = run("logs", [e], { rules, only: "failed_message" });
      assert.equal(r.firings.length, c.fires);
      if (c.fires) assert.equal(r.firings[0]!.details.level, c.level);
    });
  }
  const infoOnly = rulesWith({ logs: { failed_message: { levels: ["INFO"] } } });
  const errorLog = entry(T0, { service: "pay", level: "ERROR", message: "failed" });
  assert.equal(
    run("logs", [errorLog], { rules: infoOnly, only: "failed_message" }).firings.length,
    0,
    "ERROR is not looked at when the list leaves it out",
  );
});

Deno.test("failed_message levels default to ERROR and refuse an empty or unknown level", () => {
  assert.deepEqual(rulesWith().logs.failed_message.levels, ["ERROR"]);
  assert.throws(
    () => rulesWith({ logs: { failed_message: { levels: [] } } }),
    /logs\.failed_message\.levels.*at least one level/,
  );
  assert.throws(
    () => rulesWith({ logs: { failed_message: { levels: ["FATAL"] } } }),
    /logs\.failed_message\.levels/,
  );
});

Deno.test("failed_message alerts once per cooldown per service", () => {
  const events = spread(10, T0, 4 * MIN, () => err("pay", "request failed"));
  events.push(entry(T0 + 6 * MIN, err("pay", "request failed")));
  const r = run("logs", events, { only: "failed_message" });
  assert.equal(r.firings.length, 2, "one at T0, one after the cooldown at T0 + 6 min");
  assert.equal(r.resolutions.length, 0, "still failing");
  const later = run("logs", [entry(T0 + 11 * MIN + 1, err("other", "x"))], {
    evaluator: r.evaluator,
    only: "failed_message",
  });
  assert.equal(later.resolutions.length, 1, "quiet for a cooldown: resolved");
  assert.deepEqual(later.resolutions[0]!.ids, r.firings.map((f) => f.id));
  assert.equal(later.resolutions[0]!.at, T0 + 11 * MIN);
});

Deno.test("user_spike fires at 10 logs of any level for one user within 3 minutes, not at 9", () => {
  const mk = (i: number) => ({
    service: "web",
    level: i % 2 ? "INFO" : "DEBUG",
    message: "m",
    user_id: "u1",
  });
  assert.equal(run("logs", spread(9, T0, 2 * MIN, mk), { only: "user_spike" }).firings.length, 0);
  const r = run("logs", spread(10, T0, 2 * MIN, mk), { only: "user_spike" });
  assert.equal(r.firings.length, 1);
  assert.equal(r.firings[0]!.entity, "u1");
  assert.equal(r.firings[0]!.severity, "WARNING");
  assert.equal(
    run("logs", spread(20, T0, MIN, () => ({ service: "web", level: "INFO", message: "m" })), {
      only: "user_spike",
    }).firings.length,
    0,
    "logs without a user are not counted",
  );
});

Deno.test("error_spike stays one episode while ERROR logs keep coming at the threshold rate", () => {
  // One ERROR every 9 s keeps exactly 20 in every 3-minute window: the oldest leaves the
  // window as the next arrives, which must not resolve the spike.
  const events = Array.from({ length: 120 }, (_, i) => entry(T0 + i * 9 * SEC, err()));
  const r = run("logs", events, { only: "error_spike" });
  assert.equal(r.resolutions.length, 0, "never resolved while it holds");
  // Once per cooldown (5 min) while it holds: at the 20th error, then the first after 5 min.
  assert.deepEqual(r.firings.map((f) => (f.eventTime - T0) / SEC), [171, 477, 783]);
});
