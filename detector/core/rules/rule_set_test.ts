import assert from "node:assert/strict";
import { rulesWith } from "../../tools/testing/rules.ts";
import { logRules } from "./logs.ts";
import { transactionRules } from "./transactions.ts";

Deno.test("a rule set builds the enabled rules of its section, in order", () => {
  assert.deepEqual(logRules(rulesWith()).map((r) => r.name), [
    "error_spike",
    "failed_message",
    "user_spike",
  ]);
  assert.deepEqual(transactionRules(rulesWith()).map((r) => r.name), [
    "amount_high",
    "user_frequency",
    "status_zscore",
  ]);
  const some = rulesWith({
    logs: { failed_message: { enabled: false } },
    transactions: { amount_high: { enabled: false }, status_zscore: { enabled: false } },
  });
  assert.deepEqual(logRules(some).map((r) => r.name), ["error_spike", "user_spike"]);
  assert.deepEqual(transactionRules(some).map((r) => r.name), ["user_frequency"]);
});
