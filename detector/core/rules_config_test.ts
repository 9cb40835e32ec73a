import assert from "node:assert/strict";
import { DEFAULT_RULES, loadRulesConfig, parseRulesConfig } from "./rules_config.ts";

Deno.test("detector/rules.json as shipped holds exactly the defaults", async () => {
  const text = await Deno.readTextFile(new URL("../rules.json", import.meta.url));
  assert.deepEqual(parseRulesConfig(JSON.parse(text)), DEFAULT_RULES);
});

Deno.test("parseRulesConfig() bounds count windows at a day, naming the field", () => {
  assert.equal(
    parseRulesConfig({ logs: { error_spike: { window: "1d" } } }).logs.error_spike.window,
    86_400_000,
  );
  for (
    const [value, field] of [
      [{ logs: { error_spike: { window: "99999d" } } }, "logs.error_spike.window"],
      [
        { transactions: { user_frequency: { window: 86_400_001 } } },
        "transactions.user_frequency.window",
      ],
      [{ metrics: { cpu_sustained: { window: "25h" } } }, "metrics.cpu_sustained.window"],
    ] as const
  ) {
    assert.throws(
      () => parseRulesConfig(value),
      (e: Error) => e.message.includes(field) && e.message.includes("must be at most 24h"),
      field,
    );
  }
});

Deno.test("loadRulesConfig() refuses a file that sets a key twice in one object", async () => {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  try {
    // error_spike written twice: JSON.parse would keep only the second, silently.
    await Deno.writeTextFile(
      path,
      '{"logs": {"error_spike": {"threshold": 5}, "failed_message": {}, "error_spike": {"window": "1m"}}}',
    );
    await assert.rejects(
      loadRulesConfig(path),
      (e: Error) =>
        e instanceof TypeError &&
        e.message ===
          `Cannot load rules file ${path}: key "error_spike" appears twice in one object (JSON keeps only the last): remove or merge one`,
    );
    await Deno.writeTextFile(path, '{"logs": {"error_spike": {"threshold": 5}}}');
    assert.equal((await loadRulesConfig(path)).logs.error_spike.threshold, 5);
  } finally {
    await Deno.remove(path);
  }
});
