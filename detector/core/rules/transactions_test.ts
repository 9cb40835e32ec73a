import assert from "node:assert/strict";
import { entry, MIN, rulesWith, run, spread, T0 } from "../../tools/testing/rules.ts";

let n = 0;
const tx = (over: Record<string, unknown> = {}) => ({
  transaction_id: `t${++n}`,
  user_id: "u1",
  amount: 50,
  currency: "EUR",
  status: "approved",
  ...over,
});

Deno.test("amount_high fires above 10,000 in the event's currency", async (t) => {
  const rules = rulesWith({ transactions: { amount_high: { per_currency: { JPY: 1_500_000 } } } });
  const cases = [
    { amount: 10_000, currency: "EUR", fires: 0 },
    { amount: 10_000.01, currency: "EUR", fires: 1 },
    { amount: 10_001, currency: "USD", fires: 1 },
    { amount: 20_000, currency: "JPY", fires: 0 },
    { amount: 1_500_001, currency: "JPY", fires: 1 },
  ];
  for (const c of cases) {
    await t.step(`${c.amount} ${c.currency} -> ${c.fires}`, () => {
      const r = run("transactions", [entry(T0, tx({ amount: c.amount, currency: c.currency }))], {
        rules,
        only: "amount_high",
      });
      assert.equal(r.firings.length, c.fires);
      if (c.fires) {
        assert.equal(r.firings[0]!.severity, "CRITICAL");
        assert.equal(r.firings[0]!.entity, "u1");
      }
    });
  }
});

Deno.test("user_frequency fires at 5 transactions by one user within 5 minutes, not at 4", async (t) => {
  const cases = [
    { n: 4, span: MIN, fires: 0 },
    { n: 5, span: MIN, fires: 1 },
    { n: 5, span: 5 * MIN - 1, fires: 1 },
    { n: 5, span: 5 * MIN, fires: 0 },
  ];
  for (const c of cases) {
    await t.step(`${c.n} over ${c.span} ms -> ${c.fires}`, () => {
      const r = run("transactions", spread(c.n, T0, c.span, () => tx()), {
        only: "user_frequency",
      });
      assert.equal(r.firings.length, c.fires);
      if (c.fires) assert.equal(r.firings[0]!.severity, "WARNING");
    });
  }
  await t.step("different users are counted apart", () => {
    const r = run("transactions", spread(8, T0, MIN, (i) => tx({ user_id: `u${i % 2}` })), {
      only: "user_frequency",
    });
    assert.equal(r.firings.length, 0);
  });
});
